"""deploy/: the docker-compose file for users is valid YAML and agrees with the nginx template the
deployment test runs (tests/e2e/test_deploy_nginx.py): every placeholder is given, one node per upstream
server, on the port the nodes listen on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def template_placeholders() -> set[str]:
    lines = (DEPLOY / "nginx.conf.template").read_text().splitlines()
    return {name for line in lines if not line.lstrip().startswith("#") for name in PLACEHOLDER.findall(line)}


def test_compose_gives_nginx_every_placeholder_of_the_template() -> None:
    services = compose()["services"]
    nginx = services["nginx"]
    assert (
        set(nginx["environment"])
        == template_placeholders()
        == {
            "NGINX_LISTEN",
            "ELIZA_NODE_1",
            "ELIZA_NODE_2",
            "ELIZA_NODE_3",
        }
    )
    mounted = [v.split(":") for v in nginx["volumes"]]
    assert ["./nginx.conf.template", "/etc/nginx/templates/default.conf.template", "ro"] in mounted
    assert nginx["ports"] == [f"8080:{nginx['environment']['NGINX_LISTEN']}"]


def test_each_upstream_server_is_a_compose_node_on_its_port() -> None:
    services = compose()["services"]
    upstream = [services["nginx"]["environment"][f"ELIZA_NODE_{i}"] for i in (1, 2, 3)]
    for address in upstream:
        host, port = address.split(":")
        node = services[host]
        assert node["environment"]["SERVER_PORT"] == port
        assert node["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert "@postgres:" in node["environment"]["POSTGRES_URL"]
    nodes = [name for name, s in services.items() if "build" in s]
    assert sorted(nodes) == sorted(a.split(":")[0] for a in upstream)
