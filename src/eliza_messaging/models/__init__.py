"""Text generation behind one interface (see ``base.TextModel``)."""
