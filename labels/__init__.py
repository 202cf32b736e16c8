"""Labels: GS1 identifiers, Digital Link, label signatures, symbols and print output.

Pure code (no Flask, no SQLAlchemy).  Modules, one concept each:
``gs1`` (keys, AIs, element strings), ``digital_link`` (build/parse URIs),
``keys`` (label keys, key ids, keyring), ``signing`` (sign/verify labels),
``keylist`` (signed ``/.well-known/trace-keys``), ``symbols`` (Zint matrices),
``writers`` (PNG/SVG of a symbol), ``templates`` (the 50 x 30 mm label),
``pdf`` + ``sheets`` (streaming A4 PDF), ``zpl`` (thermal printers),
``runs`` (print-run writers by format), ``fonts``, ``errors``.
Import the submodule you need; this package imports nothing eagerly.
"""
