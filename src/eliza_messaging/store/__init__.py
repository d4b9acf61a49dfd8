"""Persistence of the messaging memory behind one interface (``base.Store``)."""
