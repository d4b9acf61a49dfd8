"""Client-side commands of the ``eliza-messaging`` CLI: ``chat`` and ``doctor`` (they use ``client/``)."""
