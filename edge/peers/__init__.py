"""Boxes of one site sharing single-use pass spends over the site's network: the claim
registry (``claims``), the messages and their signatures (``wire``), this box's side
(``exchange``) and the local API's routes for its peers (``routes``)."""
