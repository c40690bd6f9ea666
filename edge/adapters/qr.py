"""QR codes in camera frames (zxing-cpp): a visitor shows their pass's QR to the gate's camera
and it is decided like a typed code. The lane searches only frames the trigger wants (a vehicle
or a person in front of the camera), and a code still in view is not decided twice: it is
decided again only once the scene has emptied (``forget``) or after ``hold_s``."""

from __future__ import annotations

from typing import Any

import zxingcpp

QR_ONLY = zxingcpp.barcode_formats_from_str("QRCode")

class QrScanner:
    """Finds QR codes in a frame; remembers the last one handed on."""

    def __init__(self, hold_s: float = 5.0) -> None:
        self.hold_s = hold_s
        self._last: tuple[str, float] = ("", 0.0)
        self.found = 0

    def texts(self, image: Any) -> list[str]:
        """The texts of the QR codes in a frame (BGR or grey), in the order found."""
        return [r.text for r in zxingcpp.read_barcodes(image, formats=QR_ONLY)
                if r.valid and r.text]

    def forget(self) -> None:
        """The scene emptied: the next QR shown is decided, even the same one again."""
        self._last = ("", 0.0)

    def new(self, image: Any, at: float) -> str | None:
        """The first QR text in the frame that was not handed on within ``hold_s``."""
        for text in self.texts(image):
            last, when = self._last
            if text == last and at - when < self.hold_s:
                continue
            self._last = (text, at)
            self.found += 1
            return text
        return None
