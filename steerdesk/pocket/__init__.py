"""The pocket pack: steerdesk's own small, really-trained model (and later its SAE and catalog).

Built offline-reproducibly by `python -m steerdesk.pocket.build`; see README.md beside this file.
"""
