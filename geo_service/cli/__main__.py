"""``python -m geo_service.cli``, as the ``geo-service`` script."""

from geo_service.cli import main

main()
