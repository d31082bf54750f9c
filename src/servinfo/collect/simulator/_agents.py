"""User agents: browsers, command-line tools and SDKs of the Cloud Services, and attack tooling."""

from __future__ import annotations

BROWSERS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.81 Mobile Safari/537.36",
)

TOOLS: tuple[str, ...] = (
    "ims-cloud-cli/2.14.1 Python/3.12.7 Linux/6.8.0-48-generic",
    "ims-cloud-cli/2.13.0 Python/3.11.9 Darwin/24.1.0",
    "Terraform/1.9.8 terraform-provider-imscloud/0.31.0",
    "ims-cloud-sdk-go/1.22.3 (go1.23.2; linux; amd64)",
    "ims-cloud-sdk-python/3.4.0 Python/3.12.7",
)

#: What credential-stuffing tools send: scripting clients and stale browser strings.
ATTACK: tuple[str, ...] = (
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "curl/8.5.0",
    "okhttp/4.9.2",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/87.0.4280.88 Safari/537.36",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)",
)
