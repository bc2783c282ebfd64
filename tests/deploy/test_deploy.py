"""The deployment kit under deploy/: every manifest parses and holds what it must.

Run by tests/deploy/run.sh (pytest, PyYAML; kubernetes-validate and compose-spec for the schemas
of the Kubernetes API and of compose). What is checked:

- every YAML file under deploy/ parses and is one this test knows (a new one must be added here);
- poort's configs (deploy/poort.toml for compose, deploy/kubernetes/poort.toml) parse, and every
  key, section and POORT_<SECTION>__<KEY> override names a real setting: the list is read from
  the config structs in src/config/, so a renamed or misspelt key fails here;
- the image: multi-stage, non-root, nothing secret, the probe inside;
- compose: valid for the compose specification; two poort replicas in production mode behind the proxy, Redis, PostgreSQL, the
  OpenTelemetry collector, Jaeger and Mailpit; every poort container read-only, non-root,
  without capabilities, with a health check; keys made by the openssl key maker, never
  development keys; `poort check` before the replicas;
- Kubernetes: each manifest valid against the API's schema; the Deployment's probes, resources,
  security context, replicas, volumes and secret references; Service, HPA, PDB, NetworkPolicy
  and Ingress pointing at the same pods; the kustomization lists every manifest.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
CONFIG_SRC = ROOT / "src" / "config"

OPS_PORT = 9090
HTTP_PORT = 8080
NON_ROOT_UID = 10001
# Paths inside the image that poort may read without a mount (COPY config ./config).
IMAGE_PATHS = ["/srv/poort/config"]
SECRET_ENV = re.compile(r"(PASSWORD|SECRET|TOKEN|DATABASE|REDIS_URL|SMTP_URL|_KEY$)")


def load_yaml(path: Path) -> list:
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def load_toml(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


# --- poort's config schema, read from the Rust structs ------------------------------------------


class Schema:
    """The config's tables and keys as src/config/*.rs declares them (serde names)."""

    def __init__(self, sources: list[str]):
        self.structs: dict[str, dict[str, tuple[str, str]]] = {}
        self.enums: dict[str, set[str]] = {}
        text = "\n".join(sources)
        for m in re.finditer(r"((?:#\[[^\n]*\]\s*\n)*)pub enum (\w+)\s*\{(.*?)\n\}", text, re.S):
            self.enums[m.group(2)] = self._variants(m.group(1), m.group(3))
        for m in re.finditer(r"pub struct (\w+)\s*\{(.*?)\n\}", text, re.S):
            self.structs[m.group(1)] = self._fields(m.group(2))

    @staticmethod
    def _variants(attrs: str, body: str) -> set[str]:
        lower = 'rename_all = "lowercase"' in attrs
        values, rename = set(), None
        for line in body.splitlines():
            line = line.strip()
            r = re.search(r'#\[serde\(.*rename = "([^"]+)"', line)
            if r:
                rename = r.group(1)
                continue
            v = re.match(r"([A-Z]\w*)\s*[,({]?", line)
            if v and not line.startswith("#"):
                values.add(rename or (v.group(1).lower() if lower else v.group(1)))
                rename = None
        return values

    def _fields(self, body: str) -> dict[str, tuple[str, str]]:
        fields, rename = {}, None
        for line in body.splitlines():
            line = line.strip()
            if line.startswith("#[serde"):
                r = re.search(r'rename = "([^"]+)"', line)
                if r:
                    rename = r.group(1)
                continue
            f = re.match(r"pub (\w+):\s*(.+?),?$", line)
            if f:
                fields[rename or f.group(1)] = self._kind(f.group(2))
                rename = None
        return fields

    @staticmethod
    def _kind(rust_type: str) -> tuple[str, str]:
        t = rust_type.strip()
        while True:
            m = re.fullmatch(r"(?:Option|Vec|Box)<(.+)>", t)
            if not m:
                break
            t = m.group(1).strip()
        if re.search(r"(BTreeMap|HashMap)<", t):
            return ("map", "")
        return ("named", t.split("::")[-1])

    def field(self, struct: str, key: str) -> tuple[str, str] | None:
        kind = self.structs.get(struct, {}).get(key)
        if kind is None:
            return None
        if kind[0] == "named" and kind[1] in self.structs:
            return ("struct", kind[1])
        if kind[0] == "named" and kind[1] in self.enums:
            return ("enum", kind[1])
        return ("scalar", kind[1]) if kind[0] == "named" else kind

    def problems(self, table: dict, struct: str = "Config", at: str = "") -> list[str]:
        out = []
        for key, value in table.items():
            kind = self.field(struct, key)
            if kind is None:
                out.append(f"{at}{key}: no such setting in {struct}")
            elif kind[0] == "struct":
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, dict):
                        out += self.problems(item, kind[1], f"{at}{key}.")
                    else:
                        out.append(f"{at}{key}: a table was expected")
            elif kind[0] == "enum" and value not in self.enums[kind[1]]:
                out.append(f"{at}{key} = {value!r}: one of {sorted(self.enums[kind[1]])}")
        return out

    def env_problem(self, name: str) -> str | None:
        """What is wrong with an environment override POORT_<SECTION>__<KEY>, or None."""
        parts = name.removeprefix("POORT_").lower().split("__")
        struct = "Config"
        for i, part in enumerate(parts):
            kind = self.field(struct, part)
            if kind is None:
                return f"{name}: {part!r} is no setting of {struct}"
            last = i == len(parts) - 1
            if kind[0] == "struct":
                if last:
                    return f"{name} names a whole section"
                struct = kind[1]
            elif not last and kind[0] != "map":
                return f"{name}: {part!r} has no sub-keys"
        return None


SCHEMA = Schema([p.read_text(encoding="utf-8") for p in sorted(CONFIG_SRC.glob("*.rs"))])


def test_the_config_schema_is_read_from_the_rust_structs():
    sections = set(SCHEMA.structs["Config"])
    for section in ["server", "ops", "log", "telemetry", "limits", "register", "cache",
                    "state", "keys", "saml", "oidc", "mail", "backchannel", "service"]:
        assert section in sections, f"[{section}] not found in src/config: the parser is stale"
    assert "trusted_proxies" in SCHEMA.structs["ServerConfig"]
    assert "listen" in SCHEMA.structs["OpsConfig"]
    assert SCHEMA.enums["LogFormat"] == {"text", "json"}
    assert SCHEMA.enums["OtlpProtocol"] == {"grpc", "http/protobuf"}
    # The parser itself: an unknown key and a wrong value are found.
    assert SCHEMA.problems({"server": {"listen": "x", "no_such_key": 1}})
    assert SCHEMA.problems({"log": {"format": "xml"}})
    assert SCHEMA.env_problem("POORT_SERVER__TRUSTED_PROXIES") is None
    assert SCHEMA.env_problem("POORT_SERVER__TRUSTED_PROXY") is not None


CONFIGS = [DEPLOY / "poort.toml", K8S / "poort.toml"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_poort_config_parses_and_every_key_is_real(path):
    config = load_toml(path)
    assert SCHEMA.problems(config) == []
    for section in ["server", "saml", "keys"]:
        assert section in config, f"{path}: [{section}] is required"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_poort_config_is_for_production_in_a_container(path):
    c = load_toml(path)
    assert c["server"]["production"] is True, "production mode refuses development keys"
    assert c["server"]["listen"].startswith("0.0.0.0:")
    assert c["server"]["public_url"].startswith("https://")
    assert c["server"].get("trusted_proxies"), "poort sits behind a proxy"
    for proxy in c["server"]["trusted_proxies"]:
        ipaddress.ip_network(proxy, strict=False)
    assert c["ops"]["listen"] == f"0.0.0.0:{OPS_PORT}", "probes reach the ops port from outside"
    assert c["log"]["format"] == "json"
    assert c["telemetry"]["enabled"] is True and c["telemetry"]["endpoint"]
    assert c.get("backchannel", {}).get("allow_plain_http", False) is False
    assert "dev_certs_dir" not in c["keys"]
    for key in ["signing_key", "signing_cert", "encryption_key", "encryption_cert",
                "pseudonym_secret"]:
        assert "certs-dev" not in c["keys"][key], "development keys in production"
    assert c["register"]["audit_spool"].startswith("/var/lib/poort/")
    assert c["mail"]["outbox_dir"].startswith("/var/lib/poort/")
    assert c["oidc"]["keys_dir"].startswith("/etc/poort/")


# --- the image ---------------------------------------------------------------------------------


def containerfile_stages() -> list[list[tuple[str, str]]]:
    """The Containerfile's stages, each a list of (INSTRUCTION, arguments)."""
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            stages.append([])
        assert stages, "the Containerfile must begin with FROM"
        stages[-1].append((word, rest.strip()))
    return stages


def test_image_is_multi_stage_and_runs_as_non_root():
    stages = containerfile_stages()
    assert len(stages) >= 2, "build and runtime are separate stages"
    build = stages[0]
    assert re.search(r"\bAS build\b", build[0][1], re.I)
    assert any(w == "RUN" and "cargo build --release" in a for w, a in build)
    final = stages[-1]
    assert "AS" not in final[0][1].upper().split(), "the runtime is the last (default) stage"
    assert not final[0][1].startswith("rust"), "the runtime image carries no toolchain"
    users = [a for w, a in final if w == "USER"]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), "USER must not be root"
    assert any(w == "COPY" and "--from=build" in a for w, a in final)
    assert any(w == "COPY" and "probe.sh" in a for w, a in final), "the health probe"
    assert any(w == "HEALTHCHECK" for w, _ in final)
    exposed = " ".join(a for w, a in final if w == "EXPOSE").split()
    assert str(HTTP_PORT) in exposed and str(OPS_PORT) in exposed
    installs = " ".join(a for w, a in final if w == "RUN")
    for lib in ["libxmlsec1", "libxmlsec1-openssl", "libxml2", "libssl3", "ca-certificates"]:
        assert lib in installs, f"runtime library {lib}"


def test_image_holds_no_secrets():
    for stage in containerfile_stages():
        for word, args in stage:
            if word in ("ENV", "ARG", "LABEL"):
                assert not re.search(r"(PASSWORD|SECRET|TOKEN|PRIVATE|_KEY)\b", args, re.I), args
            if word in ("COPY", "ADD"):
                assert not re.search(r"certs-dev|\.key\b|\.pem\b|pseudonym|\.secret\b", args), args
    ignore = (DEPLOY / "Containerfile.dockerignore").read_text(encoding="utf-8").split()
    for excluded in ["target", ".git", "certs-dev", "data"]:
        assert excluded in ignore, f"{excluded} stays out of the build context"


# --- compose -----------------------------------------------------------------------------------


COMPOSE = load_yaml(DEPLOY / "compose.yaml")[0]
SERVICES = COMPOSE["services"]


def built_image(target: str | None) -> str:
    for svc in SERVICES.values():
        b = svc.get("build")
        if b and b.get("dockerfile") == "deploy/Containerfile" and b.get("target") == target:
            return svc["image"]
    raise AssertionError(f"no service builds deploy/Containerfile target {target}")


POORT_IMAGE = built_image(None)
POORT_SERVICES = {n: s for n, s in SERVICES.items() if s.get("image") == POORT_IMAGE}
REPLICAS = {n: s for n, s in POORT_SERVICES.items() if (s.get("command") or [""])[0] == "serve"}


def service_with_image(prefix: str) -> tuple[str, dict]:
    found = [(n, s) for n, s in SERVICES.items() if str(s.get("image", "")).startswith(prefix)]
    assert len(found) == 1, f"one service runs {prefix}, found {[n for n, _ in found]}"
    return found[0]


def mounts(svc: dict) -> list[tuple[str, str, bool]]:
    """(source, target, writable) of a compose service's volumes."""
    out = []
    for v in svc.get("volumes", []):
        if isinstance(v, dict):
            out.append((v.get("source", ""), v["target"], not v.get("read_only", False)))
        else:
            parts = v.split(":")
            mode = parts[2] if len(parts) > 2 else ""
            out.append((parts[0], parts[1], "ro" not in mode.split(",")))
    return out


def under(path: str, dirs: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def depends(name: str, seen: dict | None = None) -> dict[str, str]:
    """Every service `name` waits for, transitively, with the condition it waits on."""
    seen = {} if seen is None else seen
    deps = SERVICES[name].get("depends_on", {})
    if isinstance(deps, list):
        deps = {d: {"condition": "service_started"} for d in deps}
    for dep, how in deps.items():
        if dep not in seen:
            seen[dep] = how.get("condition", "service_started")
            depends(dep, seen)
    return seen


def published(svc: dict) -> list[tuple[str, int, int]]:
    out = []
    for p in svc.get("ports", []):
        parts = str(p).split(":")
        assert len(parts) == 3, f"publish on an explicit address: {p}"
        out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def test_compose_file_is_valid_for_the_compose_spec():
    compose_spec = pytest.importorskip("compose_spec")
    # YAML merge keys resolved (PyYAML) and the x- fragments left out: what compose itself sees.
    plain = {k: v for k, v in COMPOSE.items() if not k.startswith("x-")}
    try:
        compose_spec.PyCompose.from_json(json.dumps(plain)).validate()
    except ValueError as e:
        pytest.fail(f"deploy/compose.yaml: {e}")


def test_compose_has_every_part_of_the_trial():
    assert len(REPLICAS) >= 2, "two poort replicas"
    for image in ["haproxy", "redis", "postgres", "otel/opentelemetry-collector",
                  "jaegertracing/", "axllent/mailpit"]:
        service_with_image(image)
    assert "keygen" in SERVICES and "demo-peers" in POORT_SERVICES
    assert any((s.get("command") or [""])[0] == "check" for s in POORT_SERVICES.values())


@pytest.mark.parametrize("name", sorted(POORT_SERVICES))
def test_compose_poort_containers_are_hardened(name):
    svc = POORT_SERVICES[name]
    assert svc.get("read_only") is True, "read-only root file system"
    user = str(svc.get("user", "")).split(":")[0]
    assert user and user not in ("0", "root"), "a non-root user"
    assert "ALL" in svc.get("cap_drop", [])
    assert not svc.get("cap_add")
    assert "no-new-privileges:true" in svc.get("security_opt", [])
    for key in svc.get("environment", {}):
        assert not key.startswith("POORT_SERVER__PRODUCTION")


@pytest.mark.parametrize("name", sorted(REPLICAS))
def test_compose_replicas_are_checked_and_healthy_behind_the_proxy(name):
    svc = REPLICAS[name]
    test = " ".join(svc["healthcheck"]["test"])
    assert "/readyz" in test and str(OPS_PORT) in test
    assert not svc.get("ports"), "replicas are reached through the proxy only"
    deps = depends(name)
    check = [n for n, s in POORT_SERVICES.items() if (s.get("command") or [""])[0] == "check"]
    assert deps.get(check[0]) == "service_completed_successfully", "`poort check` first"
    assert deps.get("keygen") == "service_completed_successfully"
    for infra in ["postgres", "redis"]:
        assert deps.get(infra) == "service_healthy", f"waits for {infra}"
    grace = svc.get("stop_grace_period", "10s")
    assert int(grace.rstrip("s")) > load_toml(DEPLOY / "poort.toml")["server"][
        "shutdown_timeout_seconds"], "docker waits longer than poort's own shutdown"
    assert svc["deploy"]["resources"]["limits"]["memory"]


def test_compose_replicas_each_have_their_own_writable_folder():
    config = load_toml(DEPLOY / "poort.toml")
    sources = []
    for name, svc in REPLICAS.items():
        ms = mounts(svc)
        writable = [t for _, t, w in ms if w]
        readable = [t for _, t, _ in ms] + IMAGE_PATHS
        for key in ["audit_spool"]:
            assert under(config["register"][key], writable), f"{name}: [register] {key}"
        assert under(config["mail"]["outbox_dir"], writable)
        for path in [config["saml"]["sp_metadata_dir"], config["saml"]["idp_metadata_dir"],
                     config["oidc"]["keys_dir"], config["register"]["seed"],
                     *config["keys"].values()]:
            assert under(path, readable), f"{name}: {path} is in no mount"
        for src, target, w in ms:
            if w:
                assert not target.startswith("/etc/poort"), "config and keys are read-only"
                sources.append(src)
        assert ("./poort.toml", "/etc/poort/poort.toml", False) in ms
    assert len(sources) == len(set(sources)), "each replica's spool is its own"


def test_compose_config_points_at_the_shared_services():
    c = load_toml(DEPLOY / "poort.toml")
    assert c["register"]["database"].startswith("postgres://")
    assert "@postgres:" in c["register"]["database"]
    assert ":" not in c["register"]["database"].split("://")[1].split("@")[0], \
        "no password in the database URL (pgpass)"
    for section in ["state", "cache"]:
        assert c[section]["redis_url"].startswith("redis://redis:"), f"[{section}] shared Redis"
    assert c["mail"]["smtp_url"] == "smtp://mailpit:1025", "e-mail to Mailpit, no /dev/mailbox"
    assert c["telemetry"]["endpoint"] == "http://otel-collector:4317"
    assert "otel-collector" in SERVICES
    for name in REPLICAS:
        assert REPLICAS[name]["environment"]["PGPASSFILE"].startswith("/etc/poort/keys/")


def test_compose_environment_overrides_are_real_settings():
    for name, svc in POORT_SERVICES.items():
        env = svc.get("environment", {})
        keys = env if isinstance(env, dict) else [e.split("=")[0] for e in env]
        for key in keys:
            if key.startswith("POORT_"):
                assert SCHEMA.env_problem(key) is None, f"{name}: {SCHEMA.env_problem(key)}"


def haproxy_sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].rstrip()
        if not line:
            continue
        if not line[0].isspace():
            current = line.strip()
            sections[current] = []
        elif current:
            sections[current].append(line.strip())
    return sections


def test_compose_proxy_balances_the_replicas_on_readiness():
    name, proxy = service_with_image("haproxy")
    sections = haproxy_sections()
    backends = [lines for head, lines in sections.items() if head.startswith("backend")]
    assert len(backends) == 1
    backend = backends[0]
    assert "option httpchk GET /readyz" in backend
    assert any(f"check port {OPS_PORT}" in line for line in backend)
    servers = {line.split()[1]: line.split()[2] for line in backend if line.startswith("server")}
    assert set(servers) == set(REPLICAS), "every replica, and only replicas, behind the proxy"
    for replica, address in servers.items():
        assert address == f"{replica}:{HTTP_PORT}"
    public = [lines for head, lines in sections.items() if head == "frontend public"][0]
    bind = [line for line in public if line.startswith("bind")][0]
    assert " ssl crt " in bind
    crt = bind.split(" crt ")[1].split()[0]
    assert under(crt, [t for _, t, _ in mounts(proxy)])
    assert "option forwardfor" in public
    assert any("X-Forwarded-Proto https" in line for line in public)
    assert ("127.0.0.1", 8443, 8443) in published(proxy)
    assert proxy.get("read_only") is True and str(proxy.get("user", "0")).split(":")[0] != "0"
    # poort believes the proxy's forwarded headers, and only the proxy's.
    address = proxy["networks"]["default"]["ipv4_address"]
    subnet = COMPOSE["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    assert load_toml(DEPLOY / "poort.toml")["server"]["trusted_proxies"] == [address]


def test_compose_traces_go_through_the_collector_to_jaeger():
    collector = load_yaml(DEPLOY / "otel-collector.yaml")[0]
    assert collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
    traces = collector["service"]["pipelines"]["traces"]
    assert "otlp" in traces["receivers"]
    endpoints = [collector["exporters"][e].get("endpoint", "") for e in traces["exporters"]]
    jaeger_name, jaeger = service_with_image("jaegertracing/")
    assert f"{jaeger_name}:4317" in endpoints
    assert ("127.0.0.1", 16686, 16686) in published(jaeger)
    name, svc = service_with_image("otel/opentelemetry-collector")
    assert ("./otel-collector.yaml", "/etc/otelcol/config.yaml", False) in mounts(svc)
    # Metrics: every replica's ops port scraped, none published.
    scrape = collector["receivers"]["prometheus"]["config"]["scrape_configs"][0]
    targets = scrape["static_configs"][0]["targets"]
    assert sorted(targets) == sorted(f"{r}:{OPS_PORT}" for r in REPLICAS)


def test_compose_mail_goes_to_mailpit():
    name, mailpit = service_with_image("axllent/mailpit")
    assert name == "mailpit"
    assert ("127.0.0.1", 8025, 8025) in published(mailpit)


def test_compose_publishes_on_localhost_only_and_declares_its_volumes():
    for name, svc in SERVICES.items():
        for address, _, _ in published(svc):
            assert address == "127.0.0.1", f"{name} publishes beyond this machine"
        for src, _, _ in mounts(svc):
            if not src.startswith((".", "/")):
                assert src in COMPOSE["volumes"], f"{name}: volume {src} is not declared"
            else:
                assert (DEPLOY / src).exists(), f"{name}: {src} does not exist"


def test_compose_keys_come_from_openssl_not_dev_certs():
    keygen = SERVICES["keygen"]
    assert keygen["build"]["target"] == "keygen"
    assert keygen.get("restart") == "no"
    assert keygen.get("read_only") is True and "ALL" in keygen.get("cap_drop", [])
    assert keygen.get("cap_add", []) == ["CHOWN"]
    script = (DEPLOY / "keygen.sh").read_text(encoding="utf-8")
    assert "openssl req -x509" in script
    assert "dev-certs" not in script.replace("`poort dev-certs`", "")
    assert "DEVELOPMENT ONLY" not in script.replace("the DEVELOPMENT ONLY marker", "")
    out = {t for _, t, _ in mounts(keygen)}
    for name in REPLICAS:
        keys_volume = [s for s, t, _ in mounts(REPLICAS[name]) if t == "/etc/poort/keys"][0]
        assert (keys_volume, "/out/poort", True) in mounts(keygen)
    assert "/out/metadata" in out
    for svc in POORT_SERVICES.values():
        assert "dev-certs" not in (svc.get("command") or [])


def test_compose_demo_peers_share_their_metadata_with_poort():
    peers = POORT_SERVICES["demo-peers"]
    cmd = peers["command"]
    assert cmd[0] == "demo-peers"
    metadata_dir = cmd[cmd.index("--metadata-dir") + 1]
    shared = [s for s, t, w in mounts(peers) if t == metadata_dir and w]
    assert shared, "the peers write their metadata into a volume"
    c = load_toml(DEPLOY / "poort.toml")
    for name in REPLICAS:
        ms = {t: s for s, t, _ in mounts(REPLICAS[name])}
        base = os.path.dirname(c["saml"]["sp_metadata_dir"])
        assert ms.get(base) == shared[0], f"{name} trusts the peers' metadata"
    assert cmd[cmd.index("--poort-url") + 1] == c["server"]["public_url"]
    assert {8081, 8082} <= {p for _, p, _ in published(peers)}


def test_keygen_makes_keys_that_production_accepts(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("no openssl")
    out = tmp_path / "out"
    (out / "metadata").mkdir(parents=True)
    env = {**os.environ, "KEYGEN_OUT": str(out)}
    for _ in range(2):  # a second run keeps what the first made
        subprocess.run(["sh", str(DEPLOY / "keygen.sh")], env=env, check=True,
                       capture_output=True)
    for name in ["signing.key", "signing.crt", "encryption.key", "encryption.crt",
                 "pseudonym.secret", "pgpass"]:
        path = out / "poort" / name
        assert path.stat().st_size > 0 and (path.stat().st_mode & 0o077) == 0, name
    for cert in ["signing.crt", "encryption.crt"]:
        subject = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in",
                                  str(out / "poort" / cert)], capture_output=True, text=True,
                                 check=True).stdout
        assert "DEVELOPMENT ONLY" not in subject
    assert len(bytes.fromhex((out / "poort" / "pseudonym.secret").read_text().strip())) >= 32
    for name in ["current.pem", "next.pem", "es256/current.pem", "es256/next.pem"]:
        assert (out / "oidc" / name).stat().st_size > 0
    assert (out / "metadata" / "sp").is_dir() and (out / "metadata" / "idp").is_dir()
    # With a poort binary at hand, `poort check` in production mode finds nothing wrong with
    # these keys (the demo peers' metadata is missing here, so other findings are expected).
    binary = Path(os.environ.get("POORT_BIN") or
                  Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "poort")
    if not binary.is_file():
        pytest.skip("no poort binary: the keys were not shown to poort")
    text = (DEPLOY / "poort.toml").read_text(encoding="utf-8")
    for old, new in [("/etc/poort/keys", out / "poort"), ("/etc/poort/oidc", out / "oidc"),
                     ("/etc/poort/metadata", out / "metadata"), ("/var/lib/poort", tmp_path),
                     ("/srv/poort/config", ROOT / "config")]:
        text = text.replace(old, str(new))
    config = tmp_path / "poort.toml"
    config.write_text(text, encoding="utf-8")
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("POORT_", "OTEL_"))}
    run = subprocess.run([str(binary), "check", "--config", str(config)], env=clean_env,
                         capture_output=True, text=True, timeout=120)
    report = run.stdout + run.stderr
    assert "error(s)" in report, report
    for line in report.splitlines():
        assert not line.startswith(f"error: {out / 'poort'}"), line
        assert "development" not in line.lower(), line


# --- Kubernetes --------------------------------------------------------------------------------


KUSTOMIZATION = load_yaml(K8S / "kustomization.yaml")[0]
MANIFESTS = {p.name: load_yaml(p) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"}
OBJECTS = [d for docs in MANIFESTS.values() for d in docs]


def one(kind: str) -> dict:
    found = [o for o in OBJECTS if o.get("kind") == kind]
    assert len(found) == 1, f"one {kind}, found {len(found)}"
    return found[0]


DEPLOYMENT = one("Deployment")
POD = DEPLOYMENT["spec"]["template"]
POD_LABELS = POD["metadata"]["labels"]
POORT = [c for c in POD["spec"]["containers"] if c["name"] == "poort"][0]


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def container_port(container: dict, port) -> int:
    if isinstance(port, int):
        return port
    return [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port][0]


def k8s_config() -> dict:
    generated = [g for g in KUSTOMIZATION.get("configMapGenerator", [])
                 if g["name"] == "poort-config"]
    assert generated, "the ConfigMap poort-config holds poort.toml"
    files = generated[0]["files"]
    assert files == ["poort.toml"]
    return load_toml(K8S / files[0])


def test_kustomization_lists_every_manifest():
    listed = KUSTOMIZATION["resources"]
    assert sorted(listed) == sorted(MANIFESTS), "every manifest, and only those, is a resource"
    assert KUSTOMIZATION.get("namespace")
    for img in KUSTOMIZATION.get("images", []):
        assert img.get("newTag") and img["newTag"] != "latest"


@pytest.mark.parametrize("version", ["1.29", "1.37"])
def test_every_kubernetes_object_is_valid_for_the_api(version):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for name, docs in MANIFESTS.items():
        for doc in docs:
            assert {"apiVersion", "kind", "metadata"} <= set(doc), name
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                pytest.fail(f"{name}: {doc['kind']}: {e.message} at {list(e.path)}")


def test_no_secret_is_inlined():
    assert not [o for o in OBJECTS if o["kind"] == "Secret"], "Secrets are referenced, not kept"
    for c in POD["spec"]["containers"] + POD["spec"].get("initContainers", []):
        for e in c.get("env", []):
            if SECRET_ENV.search(e["name"]):
                assert "secretKeyRef" in e.get("valueFrom", {}), f"{c['name']}: {e['name']}"
            assert not re.search(r"://[^/\s]*:[^/\s]*@", str(e.get("value", ""))), e["name"]
    for path in MANIFESTS:
        text = (K8S / path).read_text(encoding="utf-8")
        assert "BEGIN" not in text and "PRIVATE KEY" not in text, path


def test_deployment_has_replicas_probes_and_resources():
    spec = DEPLOYMENT["spec"]
    assert spec["replicas"] >= 2
    assert selects(spec["selector"]["matchLabels"], POD_LABELS)
    live, ready = POORT["livenessProbe"]["httpGet"], POORT["readinessProbe"]["httpGet"]
    assert live["path"] == "/healthz" and container_port(POORT, live["port"]) == OPS_PORT
    assert ready["path"] == "/readyz" and container_port(POORT, ready["port"]) == OPS_PORT
    assert container_port(POORT, "http") == HTTP_PORT
    for c in POD["spec"]["containers"] + POD["spec"].get("initContainers", []):
        for kind in ["requests", "limits"]:
            for resource in ["cpu", "memory"]:
                assert c["resources"][kind][resource], f"{c['name']}: {kind}.{resource}"
    config = k8s_config()
    assert POD["spec"]["terminationGracePeriodSeconds"] > config["server"][
        "shutdown_timeout_seconds"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_deployment_is_locked_down():
    pod_sc = POD["spec"]["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] != 0
    assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert POD["spec"]["automountServiceAccountToken"] is False
    for c in POD["spec"]["containers"] + POD["spec"].get("initContainers", []):
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True, c["name"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add")
        assert not sc.get("privileged")


def test_deployment_runs_poort_check_first_with_the_same_config():
    inits = POD["spec"].get("initContainers", [])
    check = [c for c in inits if c.get("args", [])[:1] == ["check"]]
    assert check, "`poort check` as an init container"
    assert check[0]["args"][1:] == POORT["args"][1:], "the same --config"
    assert POORT["args"][0] == "serve"
    ro = lambda c: {m["mountPath"]: m["name"] for m in c["volumeMounts"] if m.get("readOnly")}
    assert ro(check[0]) == ro(POORT), "check sees what serve sees"


def test_deployment_volumes_hold_config_keys_and_a_writable_folder():
    volumes = {v["name"]: v for v in POD["spec"]["volumes"]}
    config = k8s_config()
    for c in POD["spec"]["containers"] + POD["spec"].get("initContainers", []):
        for m in c["volumeMounts"]:
            assert m["name"] in volumes, f"{c['name']}: no volume {m['name']}"
            if not m.get("readOnly"):
                assert "emptyDir" in volumes[m["name"]], f"{m['mountPath']} writable on disk"
    mounted = {m["mountPath"]: volumes[m["name"]] for m in POORT["volumeMounts"]}
    writable = [m["mountPath"] for m in POORT["volumeMounts"] if not m.get("readOnly")]
    assert under(config["register"]["audit_spool"], writable)
    assert under(config["mail"]["outbox_dir"], writable)
    config_path = POORT["args"][POORT["args"].index("--config") + 1]
    config_volume = mounted[os.path.dirname(config_path)]
    assert config_volume["configMap"]["name"] == "poort-config"

    def volume_for(path: str) -> dict:
        best = max((d for d in mounted if under(path, [d])), key=len, default=None)
        assert best, f"{path} is in no volume"
        return mounted[best]

    def secret_only(volume: dict) -> bool:
        if "secret" in volume:
            return True
        sources = volume.get("projected", {}).get("sources", [])
        return bool(sources) and all(set(s) == {"secret"} for s in sources)

    for key, path in config["keys"].items():
        assert secret_only(volume_for(path)), f"[keys] {key} from a Secret"
    for key in ["client_cert", "client_key"]:
        assert secret_only(volume_for(config["backchannel"][key])), f"[backchannel] {key}"
    oidc = volume_for(config["oidc"]["keys_dir"] + "/current.pem")
    assert secret_only(oidc)
    paths = [i["path"] for s in oidc["projected"]["sources"] for i in s["secret"]["items"]]
    for needed in ["current.pem", "next.pem", "es256/current.pem", "es256/next.pem"]:
        assert needed in paths, f"[oidc] keys_dir holds {needed}"
    for key in ["sp_metadata_dir", "idp_metadata_dir"]:
        assert "configMap" in volume_for(config["saml"][key] + "/x.xml")


def test_deployment_gives_every_replica_the_shared_stores():
    env = {e["name"]: e for e in POORT["env"]}
    for name in ["POORT_REGISTER__DATABASE", "POORT_STATE__REDIS_URL", "POORT_CACHE__REDIS_URL",
                 "POORT_MAIL__SMTP_URL"]:
        assert name in env, f"{name}: every replica needs it"
    for c in POD["spec"]["containers"] + POD["spec"].get("initContainers", []):
        for e in c.get("env", []):
            if e["name"].startswith("POORT_"):
                assert SCHEMA.env_problem(e["name"]) is None, SCHEMA.env_problem(e["name"])
    config = k8s_config()
    assert "database" not in config.get("register", {}), "the database URL comes from a Secret"
    assert "redis_url" not in config.get("state", {}) and "redis_url" not in config.get("cache", {})


def test_service_selects_the_pods_and_keeps_the_ops_port_private():
    service = one("Service")
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert selects(service["spec"]["selector"], POD_LABELS)
    for port in service["spec"]["ports"]:
        target = container_port(POORT, port.get("targetPort", port["port"]))
        assert target != OPS_PORT, "the ops port is in no Service"
        assert target == HTTP_PORT
    ingress = one("Ingress")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"].get("name") in [p.get("name") for p in service["spec"]["ports"]]
    assert ingress["spec"]["tls"], "TLS at the edge"


def test_hpa_scales_the_deployment():
    hpa = one("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert target["kind"] == "Deployment" and target["name"] == DEPLOYMENT["metadata"]["name"]
    assert target["apiVersion"] == "apps/v1"
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"]


def test_pdb_selects_the_same_pods():
    pdb = one("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == DEPLOYMENT["spec"]["selector"]["matchLabels"]
    assert pdb["spec"].get("minAvailable", 0) >= 1 or pdb["spec"].get("maxUnavailable") == 1


def test_networkpolicy_limits_ingress():
    policy = one("NetworkPolicy")
    spec = policy["spec"]
    assert selects(spec["podSelector"]["matchLabels"], POD_LABELS)
    assert "Ingress" in spec["policyTypes"] and "Egress" in spec["policyTypes"]
    sources_by_port: dict[int, list] = {}
    for rule in spec["ingress"]:
        assert rule.get("from"), "no ingress rule admits everyone"
        assert rule.get("ports"), "no ingress rule opens every port"
        for port in rule["ports"]:
            sources_by_port.setdefault(container_port(POORT, port["port"]), []).append(
                rule["from"])
    assert set(sources_by_port) == {HTTP_PORT, OPS_PORT}
    assert sources_by_port[OPS_PORT] != sources_by_port[HTTP_PORT], \
        "the ops port is not open to whoever reaches the public port"
    egress_ports = {p["port"] for rule in spec["egress"] for p in rule.get("ports", [])}
    for needed in [53, 5432, 6379, 4317]:
        assert needed in egress_ports, f"egress to port {needed}"


def test_kustomize_builds_the_whole_set():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("no kubectl")
    built = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True,
                           check=True).stdout
    objects = [d for d in yaml.safe_load_all(built) if d]
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "ConfigMap", "NetworkPolicy"} <= kinds
    configmap = [o for o in objects if o["kind"] == "ConfigMap"][0]
    assert tomllib.loads(configmap["data"]["poort.toml"]) == k8s_config()
    deployment = [o for o in objects if o["kind"] == "Deployment"][0]
    names = [v["configMap"]["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]
             if "configMap" in v]
    assert configmap["metadata"]["name"] in names, "the Deployment mounts the generated config"
    assert all(o["metadata"].get("namespace") == KUSTOMIZATION["namespace"]
               for o in objects if o["kind"] != "Namespace")


# --- every YAML file ---------------------------------------------------------------------------


KNOWN_YAML = {"compose.yaml", "otel-collector.yaml", *(f"kubernetes/{n}" for n in MANIFESTS),
              "kubernetes/kustomization.yaml"}


def test_every_yaml_file_under_deploy_parses_and_is_checked_here():
    found = {str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml")}
    for name in found:
        assert load_yaml(DEPLOY / name), f"{name} is empty"
    assert found == KNOWN_YAML, f"unchecked YAML under deploy/: {sorted(found - KNOWN_YAML)}"
