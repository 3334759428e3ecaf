"""From a course roster to queued credentials: templates, rosters, preview, discard, corrections.

``table`` reads CSV/XLSX rosters, ``template`` renders a credential template per row (pure),
``starter`` writes starting templates, ``ids`` derives row ids, ``records`` keeps roster runs
in the issuer database, ``issue`` ties them to the intake, ``preview`` / ``discard`` act on what is
queued, ``correct`` is ``registry reissue``. The issuer's guide: docs/issuers-guide.md.
"""
