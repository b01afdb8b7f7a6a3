"""The project's date formats per language (``FORMAT_MODULE_PATH``), on top of Django's own.

Dated documents (督办函, 通报) print ``DATE_FORMAT``: ``2026年11月23日`` in Chinese, ``23 November
2026`` in English. Only the formats named in these modules differ from Django's.
"""
