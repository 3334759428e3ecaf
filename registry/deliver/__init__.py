"""Delivery by email of anchored credentials (issue 15 item 3: ``registry deliver``).

``recipients`` finds a credential's address, ``template`` renders the issuer's message,
``message`` builds the MIME message, ``smtp`` talks to the server, ``ratelimit`` spaces the
sends, ``store`` keeps the state in the ``deliveries`` table and ``run`` drives one run.
The guarantee (exactly once, and the one window where it cannot be) is in docs/delivery.md.
"""
