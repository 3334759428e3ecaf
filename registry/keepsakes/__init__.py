"""Documents people keep: a printable PDF certificate and Open Badges 3.0 baked badges (PNG, SVG)
made from one anchored credential, and the extraction of the credential from such a file.

Pure (bytes in, bytes out; the only file read is the TTF font, :mod:`.fonts`) and deterministic:
the same credential gives the same bytes. :mod:`.facts` reads what the documents print,
:mod:`.pdf` writes the certificate, :mod:`.badge` bakes the badges, :mod:`.extract` gets the
credential back out of an uploaded PDF, PNG or SVG with bounded work.
"""
