"""People of the societies: residents (a phone number, a name, the flats they live in and the
vehicles that are theirs). Partners and visitors come here too."""
