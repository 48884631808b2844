#!/usr/bin/env python3
"""Offline checks of the integ Helm chart.

What it does, in order:
  1. lints the chart with the Helm SDK (strict) for the default values and every example;
  2. renders each of those value sets and schema-checks every manifest with kubernetes-validate
     (strict) for each Kubernetes minor version from 1.30 to the newest the package knows;
  3. asserts what a schema cannot: probes, ports, shutdown timing, security context, how
     secrets reach the pods (mounted files only), NetworkPolicy peers, Ingress paths, and that
     every INTEG_* variable is a key the Rust sources under crates/ read (a *_FILE one only for
     a setting read as a secret); it also checks the schema's provider and setting names
     against those sources;
  4. feeds the chart values it must refuse (SQLite with replicas, unknown keys, wrong types,
     pasted secrets) and checks each is refused without the refusal echoing a secret.

What it does not do: talk to a cluster, or check CRD kinds (ServiceMonitor) beyond our own
asserts. Run it through scripts/helm-check.sh, which prepares the Python tools. The last line
printed is "N passed, M failed"; the exit status is non-zero when anything failed.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import helm_python as helm
import jsonschema
import kubernetes_validate
import kubernetes_validate.utils as kv_utils
import yaml
from packaging.version import Version

HERE = Path(__file__).resolve().parent
# INTEG_CHART_DIR points the checks at a copy of the chart (used to prove they catch breakage).
CHART_DIR = Path(os.environ.get("INTEG_CHART_DIR") or HERE.parent / "integ").resolve()
EXAMPLES = CHART_DIR / "examples"
TEST_VALUES = HERE / "values"

RELEASE = "integ"
NAMESPACE = "integ-check"
# A release name of 53 characters, the most Helm accepts: object names must still fit.
LONG_RELEASE = "a-release-name-that-is-exactly-fifty-three-chars-long"
MIN_KUBE = Version("1.30")

FAMILIES = {
    "payments": "integ.payments.v1.PaymentsService",
    "messaging": "integ.messaging.v1.MessagingService",
    "identity": "integ.identity.v1.IdentityService",
    "storage": "integ.storage.v1.StorageService",
}
PORT_ENV = {"grpc": "INTEG_GRPC_PORT", "webhooks": "INTEG_HTTP_PORT", "metrics": "INTEG_METRICS_PORT"}
SECRET_MOUNT_ROOT = "/var/run/secrets/integ/"
# An env var with such a name carries a secret: it must not exist; its *_FILE twin must.
SECRET_ENV_NAME = re.compile(r"(API_KEY|SECRET|TOKEN|PASSWORD|DATABASE_URL|ACCESS_KEY|PRIVATE_KEY)$")
# Values shaped like well-known credentials, a PEM block, or a URL carrying a password.
CREDENTIAL_VALUE = re.compile(
    r"^(sk|rk)_(live|test)_|^whsec_|-----BEGIN|^(AKIA|ASIA)[0-9A-Z]{16}$|^SG\.[\w-]{16,}"
    r"|^xox[abprs]-|^gh[pousr]_\w{20,}|^AIza[\w-]{30,}|://[^/@\s:]+:[^/@\s]+@"
)
CANARY = "CANARY"  # every canary test value contains this marker
CRD_GROUPS = ("monitoring.coreos.com/",)

# The Rust sources, found from this file (helm/tests/ -> repository root), not from the chart
# copy INTEG_CHART_DIR may name: the environment names the code reads are scanned from them.
REPO_ROOT = HERE.parent.parent
CRATES = REPO_ROOT / "crates"
# Builds the per-provider resilience keys as format!("{prefix}_{suffix}").
POLICY_RS = CRATES / "core" / "src" / "resilience" / "policy.rs"
# The settings the code reads as secrets (Env::secret or Env::required_secret in
# crates/core/src/config.rs). Only these accept the KEY_FILE form; a plain setting given as
# KEY_FILE is ignored, and the adapter then stops with exit 64 if the setting is required.
# Where each is read: store/mod.rs, seal.rs and webhook/sandbox.rs in crates/core/src, and
# crates/payments/src/{stripe,square,paypal}/config.rs; they are the "(`_FILE`)" rows of the
# configuration table in the top-level README.md. check_secret_table compares this table with
# the secret reads it finds in the code.
SECRET_SETTINGS = frozenset({
    "INTEG_DATABASE_URL",
    "INTEG_RECORD_KEY",
    "INTEG_SANDBOX_WEBHOOK_SECRET",
    "INTEG_STRIPE_API_KEY",
    "INTEG_STRIPE_WEBHOOK_SECRET",
    "INTEG_SQUARE_ACCESS_TOKEN",
    "INTEG_SQUARE_WEBHOOK_SIGNATURE_KEY",
    "INTEG_PAYPAL_CLIENT_SECRET",
})


# --- reporting ----------------------------------------------------------------------------------


class Report:
    """Counts checks; prints one line per check and the closing tally."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, problems: Iterable[str]) -> None:
        problems = list(problems)
        if problems:
            self.failed += 1
            print(f"FAIL {name}")
            for problem in problems[:20]:
                print(f"       {problem}")
            if len(problems) > 20:
                print(f"       ... and {len(problems) - 20} more")
        else:
            self.passed += 1
            print(f"ok   {name}")

    def run(self, name: str, fn: Callable[[], Iterable[str]]) -> None:
        """Runs one check; an exception inside it is a failure, not a crash."""
        try:
            problems = list(fn())
        except Exception as exc:  # noqa: BLE001 - a broken check must be reported, not hidden
            problems = [f"raised {type(exc).__name__}: {exc}"]
        self.check(name, problems)


# --- loading and rendering ------------------------------------------------------------------------


def load_values(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a mapping")
    return data


def render(chart: helm.Chart, values: dict[str, Any] | None, release: str = RELEASE) -> list[dict]:
    """Renders the chart and returns its objects (NOTES.txt and empty documents dropped)."""
    manifests = chart.render(values, name=release, namespace=NAMESPACE)
    objects: list[dict] = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("__source", path)
                objects.append(doc)
    return objects


def strip_source(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k != "__source"}


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o.get("kind") == kind]


def by_name(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in of_kind(objects, kind)}


def family_of(obj: dict) -> str:
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/component", "")


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# --- kubernetes-validate --------------------------------------------------------------------------


def install_schema_cache() -> None:
    """kubernetes-validate re-reads its (large) schema files on every call; read each once."""
    kv_utils.schema_contents = functools.lru_cache(maxsize=None)(kv_utils.schema_contents)


def kube_versions() -> list[str]:
    """Every minor version from 1.30 to the newest kubernetes-validate ships schemas for."""
    known = {v for v in kv_utils.all_versions() if Version(v) >= MIN_KUBE}
    return sorted(known, key=Version)


def validate_objects(objects: list[dict], version: str) -> Iterable[str]:
    for obj in objects:
        api = obj.get("apiVersion", "")
        if api.startswith(CRD_GROUPS):
            continue  # CRDs have no upstream schema; our own asserts cover them
        where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(strip_source(obj), version, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = ".".join(str(p) for p in err.path)
            yield f"{where}: {path}: {err.message}"
        except kubernetes_validate.SchemaNotFoundError as err:
            yield f"{where}: {err.message}"


# --- semantic asserts -----------------------------------------------------------------------------


def env_map(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def the_container(deploy: dict) -> dict:
    containers = deploy["spec"]["template"]["spec"]["containers"]
    if len(containers) != 1:
        raise AssertionError(f"{deploy['metadata']['name']}: expected one container")
    return containers[0]


def check_probes(deploy: dict) -> Iterable[str]:
    name = deploy["metadata"]["name"]
    family = family_of(deploy)
    container = the_container(deploy)
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    want = {"startupProbe": "", "livenessProbe": "", "readinessProbe": FAMILIES.get(family)}
    for probe_name, service in want.items():
        probe = container.get(probe_name)
        if not probe:
            yield f"{name}: no {probe_name}"
            continue
        handlers = [h for h in ("grpc", "httpGet", "tcpSocket", "exec") if h in probe]
        if handlers != ["grpc"]:
            yield f"{name}: {probe_name} handlers {handlers}, want only grpc"
            continue
        grpc = probe["grpc"]
        if grpc.get("port") != ports.get("grpc"):
            yield f"{name}: {probe_name} port {grpc.get('port')} != grpc port {ports.get('grpc')}"
        if grpc.get("service", "") != service:
            yield f"{name}: {probe_name} service {grpc.get('service')!r}, want {service!r}"


def check_service_ports(objects: list[dict]) -> Iterable[str]:
    services = by_name(objects, "Service")
    for deploy in of_kind(objects, "Deployment"):
        name = deploy["metadata"]["name"]
        svc = services.get(name)
        if svc is None:
            yield f"{name}: no Service of the same name"
            continue
        pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
        if not selects(svc["spec"].get("selector", {}), pod_labels):
            yield f"{name}: Service selector does not select the pods"
        container_ports = {p["name"]: p["containerPort"] for p in the_container(deploy)["ports"]}
        svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
        if set(svc_ports) != {"grpc", "webhooks", "metrics"}:
            yield f"{name}: Service port names {sorted(svc_ports)}"
        if set(container_ports) != {"grpc", "webhooks", "metrics"}:
            yield f"{name}: container port names {sorted(container_ports)}"
        for port_name, port in svc_ports.items():
            if port.get("targetPort") != port_name:
                yield f"{name}: Service port {port_name} targets {port.get('targetPort')!r}"
            if port.get("port") != container_ports.get(port_name):
                yield f"{name}: Service port {port_name}={port.get('port')} but container has {container_ports.get(port_name)}"


def check_ports_env(deploy: dict) -> Iterable[str]:
    name = deploy["metadata"]["name"]
    container = the_container(deploy)
    env = env_map(container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    if env.get("INTEG_BIND_HOST", {}).get("value") != "0.0.0.0":
        yield f"{name}: INTEG_BIND_HOST is not 0.0.0.0"
    for port_name, var in PORT_ENV.items():
        if env.get(var, {}).get("value") != str(ports.get(port_name)):
            yield f"{name}: {var}={env.get(var, {}).get('value')!r} but port {port_name}={ports.get(port_name)}"
    family = family_of(deploy)
    if f"INTEG_{family.upper()}_PROVIDERS" not in env:
        yield f"{name}: INTEG_{family.upper()}_PROVIDERS missing"


def check_shutdown(deploy: dict) -> Iterable[str]:
    name = deploy["metadata"]["name"]
    pod = deploy["spec"]["template"]["spec"]
    container = the_container(deploy)
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    if list(pre_stop) != ["sleep"]:
        yield f"{name}: preStop should be the kubelet sleep action only, got {list(pre_stop)}"
        return
    sleep = int(pre_stop["sleep"]["seconds"])
    grace_env = env_map(container).get("INTEG_SHUTDOWN_GRACE_SECS", {}).get("value")
    if grace_env is None:
        yield f"{name}: INTEG_SHUTDOWN_GRACE_SECS not set"
        return
    grace = int(grace_env)
    period = pod.get("terminationGracePeriodSeconds")
    if period is None or period <= sleep + grace:
        yield f"{name}: terminationGracePeriodSeconds={period} leaves no margin over preStop {sleep}s + grace {grace}s"


def check_security(objects: list[dict]) -> Iterable[str]:
    for deploy in of_kind(objects, "Deployment"):
        name = deploy["metadata"]["name"]
        pod = deploy["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        if pod.get("automountServiceAccountToken") is not False:
            yield f"{name}: pod mounts the ServiceAccount token"
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            yield f"{name}: pod shares a host namespace"
        for c in pod["containers"] + pod.get("initContainers", []):
            csc = c.get("securityContext", {})
            if not (csc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
                yield f"{name}/{c['name']}: runAsNonRoot not set"
            if csc.get("readOnlyRootFilesystem") is not True:
                yield f"{name}/{c['name']}: root filesystem is writable"
            if csc.get("allowPrivilegeEscalation") is not False:
                yield f"{name}/{c['name']}: allowPrivilegeEscalation not false"
            if csc.get("privileged"):
                yield f"{name}/{c['name']}: privileged"
            caps = csc.get("capabilities", {})
            if "ALL" not in caps.get("drop", []) or caps.get("add"):
                yield f"{name}/{c['name']}: capabilities must drop ALL and add none"
            seccomp = csc.get("seccompProfile") or psc.get("seccompProfile") or {}
            if seccomp.get("type") != "RuntimeDefault":
                yield f"{name}/{c['name']}: seccompProfile is not RuntimeDefault"
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            if "emptyDir" not in volumes.get(mounts.get("/tmp", ""), {}):
                yield f"{name}/{c['name']}: /tmp is not an emptyDir"
        if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            yield f"{name}: pod seccompProfile is not RuntimeDefault"
    for sa in of_kind(objects, "ServiceAccount"):
        if sa.get("automountServiceAccountToken") is not False:
            yield f"ServiceAccount/{sa['metadata']['name']}: token automount not disabled"


def secret_files(pod: dict, container: dict) -> dict[str, str]:
    """Maps each file path the container can read from a mounted Secret to its Secret name."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    files: dict[str, str] = {}
    for mount in container.get("volumeMounts", []):
        secret = volumes.get(mount["name"], {}).get("secret")
        if not secret:
            continue
        if "subPath" in mount:
            continue  # a subPath mount never sees a rotated Secret; treated as not mounted
        for item in secret.get("items", []):
            files[f"{mount['mountPath'].rstrip('/')}/{item['path']}"] = secret["secretName"]
    return files


def check_secret_wiring(objects: list[dict]) -> Iterable[str]:
    for obj in objects:
        if obj.get("kind") == "Secret":
            yield f"Secret/{obj['metadata']['name']} rendered: the chart must only reference existing Secrets"
    for deploy in of_kind(objects, "Deployment"):
        name = deploy["metadata"]["name"]
        pod = deploy["spec"]["template"]["spec"]
        for container in pod["containers"]:
            if container.get("envFrom"):
                yield f"{name}: envFrom is not allowed (secrets would become env values)"
            files = secret_files(pod, container)
            for var in container.get("env", []):
                var_name, value = var["name"], var.get("value")
                if "valueFrom" in var:
                    yield f"{name}: {var_name} uses valueFrom ({list(var['valueFrom'])}); secrets come in as files"
                if SECRET_ENV_NAME.search(var_name):
                    yield f"{name}: {var_name} looks secret; only {var_name}_FILE is allowed"
                if value is not None and (CREDENTIAL_VALUE.search(value) or CANARY in value):
                    yield f"{name}: {var_name} has a credential-looking value"
                if var_name.endswith("_FILE"):
                    if not (value or "").startswith(SECRET_MOUNT_ROOT):
                        yield f"{name}: {var_name} points outside {SECRET_MOUNT_ROOT}"
                    elif value not in files:
                        yield f"{name}: {var_name}={value} is not a file of a mounted Secret"
            for mount in container.get("volumeMounts", []):
                if mount["mountPath"].startswith(SECRET_MOUNT_ROOT) and not mount.get("readOnly"):
                    yield f"{name}: secret mount {mount['mountPath']} is writable"


# --- environment names against the code -----------------------------------------------------------

ENV_LITERAL = re.compile(r'"(INTEG_[A-Z0-9_]+)"')
# A call reading a secret: env.secret("INTEG_X"), env.required_secret(KEY) with a const KEY.
SECRET_READ = re.compile(r'\b(?:required_secret|secret)\(\s*(?:"(INTEG_[A-Z0-9_]+)"|([A-Z][A-Z0-9_]*))\s*\)')
STR_CONST = re.compile(r'\bconst\s+([A-Z][A-Z0-9_]*)\s*:\s*&str\s*=\s*"(INTEG_[A-Z0-9_]+)"')
KNOWN_PROVIDERS = re.compile(r'\bKNOWN_PROVIDERS\s*:\s*&\[&str\]\s*=\s*&\[([^\]]*)\]')


@functools.lru_cache(maxsize=None)
def rust_sources() -> tuple[tuple[Path, str], ...]:
    files = tuple((path, path.read_text()) for path in sorted(CRATES.rglob("*.rs")))
    if not files:
        raise FileNotFoundError(f"no Rust sources under {CRATES}")
    return files


@functools.lru_cache(maxsize=None)
def code_env_keys() -> frozenset[str]:
    """Every "INTEG_..." string literal in crates/**/*.rs."""
    return frozenset(k for _, text in rust_sources() for k in ENV_LITERAL.findall(text))


@functools.lru_cache(maxsize=None)
def resilience_suffixes() -> frozenset[str]:
    """The suffixes policy.rs appends to a provider's prefix: "TIMEOUT_MS" or "_TIMEOUT_MS"."""
    found = frozenset(m.lstrip("_") for m in re.findall(r'"(_?[A-Z][A-Z0-9_]*)"', POLICY_RS.read_text()))
    if not found:
        raise ValueError(f"no resilience key suffixes found in {POLICY_RS}")
    return found


# Builds INTEG_<PROVIDER>_WEBHOOK_ACCOUNTS as format!("{prefix}_WEBHOOK_ACCOUNTS").
WEBHOOK_RS = CRATES / "core" / "src" / "webhook" / "mod.rs"


@functools.lru_cache(maxsize=None)
def built_provider_suffixes() -> frozenset[str]:
    """Provider settings the code builds from the provider's prefix at run time: the resilience
    keys of policy.rs and the webhook accounts list of webhook/mod.rs."""
    accounts = frozenset(re.findall(r'"\{prefix\}_([A-Z][A-Z0-9_]*)"', WEBHOOK_RS.read_text()))
    if not accounts:
        raise ValueError(f"no per-provider key built in {WEBHOOK_RS}")
    return resilience_suffixes() | accounts


def code_secret_reads() -> set[str]:
    """The INTEG_ keys read through secret()/required_secret(), resolving same-file consts."""
    reads: set[str] = set()
    for _, text in rust_sources():
        consts = dict(STR_CONST.findall(text))
        for literal, const in SECRET_READ.findall(text):
            key = literal or consts.get(const, "")
            if key:
                reads.add(key)
    return reads


def code_known_providers() -> dict[str, list[str]]:
    """KNOWN_PROVIDERS of each family crate (crates/<family>/src/config.rs)."""
    known: dict[str, list[str]] = {}
    for family in FAMILIES:
        match = KNOWN_PROVIDERS.search((CRATES / family / "src" / "config.rs").read_text())
        if not match:
            raise ValueError(f"crates/{family}/src/config.rs has no KNOWN_PROVIDERS")
        known[family] = re.findall(r'"([a-z0-9_-]+)"', match.group(1))
    return known


def check_secret_table() -> Iterable[str]:
    """SECRET_SETTINGS names keys the code has, and holds every secret read the scan resolves.
    Keys the code builds at run time (per-account webhook keys) cannot be resolved here."""
    code = code_env_keys()
    for key in sorted(SECRET_SETTINGS - code):
        yield f"SECRET_SETTINGS names {key}, which no Rust source mentions"
    for key in sorted(code_secret_reads() - SECRET_SETTINGS):
        yield f"the code reads {key} as a secret; add it to SECRET_SETTINGS"


def check_schema_providers(schema: dict[str, Any]) -> Iterable[str]:
    """The provider names values.schema.json accepts are exactly the ones the code builds."""
    families = schema["properties"]["families"]["properties"]
    for family, built in code_known_providers().items():
        names = families[family]["properties"]["providers"]["items"]["properties"]["name"]["enum"]
        if sorted(names) != sorted(built):
            yield f"families.{family}: the schema accepts {sorted(names)}, the code builds {sorted(built)}"


# $defs naming a provider's accepted setting names: stripeSecretName, sandboxIdentitySettingName.
PROVIDER_NAME_DEF = re.compile(r"^([a-z0-9]+)(?:[A-Z][a-z]+)?(Secret|Setting)Name$")


def schema_names(schema: dict[str, Any], node: dict[str, Any]) -> set[str]:
    """The names an enum-built name schema accepts, following $ref; resilience names skipped."""
    ref = node.get("$ref", "").removeprefix("#/$defs/")
    if ref == "resilienceSettingName":
        return set()
    if ref:
        return schema_names(schema, schema["$defs"][ref])
    names = set(node.get("enum", []))
    for sub in node.get("anyOf", []):
        names |= schema_names(schema, sub)
    return names


def check_schema_names(schema: dict[str, Any]) -> Iterable[str]:
    """Every setting name values.schema.json accepts is one the code reads, secret names agree
    with SECRET_SETTINGS both ways, and the resilience names are policy.rs's. (A name the code
    reads but the schema refuses is a missing feature, not a broken pod, so it is not checked.)"""
    defs = schema["$defs"]
    code = code_env_keys()
    resilience = set(defs["resilienceSettingName"]["enum"])
    if resilience != resilience_suffixes():
        yield f"resilienceSettingName is {sorted(resilience)}, policy.rs reads {sorted(resilience_suffixes())}"
    built = {name for names in code_known_providers().values() for name in names}
    accepted: dict[tuple[str, str], set[str]] = {}
    for def_name, node in defs.items():
        match = PROVIDER_NAME_DEF.match(def_name)
        if match and match.group(1) in built:
            key = (match.group(1), match.group(2))
            accepted[key] = accepted.get(key, set()) | schema_names(schema, node)
    for provider in sorted(built):
        prefix = "INTEG_" + provider.upper().replace("-", "_") + "_"
        if (provider, "Secret") not in accepted or (provider, "Setting") not in accepted:
            yield f"{provider}: the schema has no {provider}SecretName or {provider}SettingName"
            continue
        secrets = {prefix + n for n in accepted[(provider, "Secret")]}
        plain = {prefix + n for n in accepted[(provider, "Setting")]}
        for key in sorted(secrets - SECRET_SETTINGS):
            yield f"{provider}: secretKeys accepts {key}, which the code does not read as a secret"
        for key in sorted({k for k in SECRET_SETTINGS if k.startswith(prefix)} - secrets):
            yield f"{provider}: the code reads the secret {key}, which secretKeys refuses"
        runtime = {prefix + suffix for suffix in built_provider_suffixes()}
        for key in sorted(plain - code - runtime):
            yield f"{provider}: settings accepts {key}, which the code does not read"
        for key in sorted(plain & SECRET_SETTINGS):
            yield f"{provider}: settings accepts the secret {key}"
    server = set(defs["serverSettingName"]["enum"])
    families = {f"INTEG_{family.upper()}_FAILOVER" for family in FAMILIES}
    for key in sorted(server - code - families):
        yield f"extraEnv accepts {key}, which the code does not read"
    for key in sorted(server & SECRET_SETTINGS):
        yield f"extraEnv accepts the secret {key}"


def check_env_names(deploy: dict) -> Iterable[str]:
    """Every INTEG_* variable is one the code reads; KEY_FILE only for settings read as secrets."""
    name = deploy["metadata"]["name"]
    family = family_of(deploy).upper()
    env = env_map(the_container(deploy))
    providers = env.get(f"INTEG_{family}_PROVIDERS", {}).get("value", "").split(",")
    known = set(code_env_keys()) | {f"INTEG_{family}_PROVIDERS", f"INTEG_{family}_FAILOVER"}
    secrets = set(SECRET_SETTINGS)
    for provider in filter(None, providers):
        prefix = "INTEG_" + provider.upper().replace("-", "_")
        known |= {f"{prefix}_{suffix}" for suffix in built_provider_suffixes()}
        # Per-account webhook keys (crates/core/src/webhook/mod.rs, `accounts`): the
        # provider's webhook keys with `_<ACCOUNT>` for each name in <P>_WEBHOOK_ACCOUNTS.
        listed = env.get(f"{prefix}_WEBHOOK_ACCOUNTS", {}).get("value", "")
        for account in filter(None, (a.strip() for a in listed.split(","))):
            suffix = "_" + account.upper().replace("-", "_")
            bases = {k for k in code_env_keys() if k.startswith(f"{prefix}_WEBHOOK_")}
            known |= {base + suffix for base in bases}
            secrets |= {base + suffix for base in bases & SECRET_SETTINGS}
    for var in env:
        if not var.startswith("INTEG_"):
            continue
        key = var.removesuffix("_FILE")
        if key not in known:
            yield f"{name}: {var}: not a key the {family_of(deploy)} adapter reads with providers {','.join(providers)}"
        elif var != key and key not in secrets:
            yield f"{name}: {var}: {key} is a plain setting, so the code ignores its _FILE form"
        elif var == key and key in secrets:
            yield f"{name}: {var} is a secret given as a value; only {var}_FILE is allowed"


def providers_of(deploy: dict) -> list[str]:
    family = family_of(deploy).upper()
    value = env_map(the_container(deploy)).get(f"INTEG_{family}_PROVIDERS", {}).get("value", "")
    return [name for name in value.split(",") if name]


def needs_data_volume(deploy: dict, driver: str) -> bool:
    """Every family on SQLite, and storage with the sandbox (object contents are local files)."""
    return driver == "sqlite" or (family_of(deploy) == "storage" and "sandbox" in providers_of(deploy))


def check_store(objects: list[dict], values: dict[str, Any]) -> Iterable[str]:
    driver = values["database"]["driver"]
    claims = by_name(objects, "PersistentVolumeClaim")
    used_claims: set[str] = set()
    single = set()
    for deploy in of_kind(objects, "Deployment"):
        name = deploy["metadata"]["name"]
        pod = deploy["spec"]["template"]["spec"]
        container = the_container(deploy)
        env = env_map(container)
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        if needs_data_volume(deploy, driver):
            single.add(name)
            if env.get("INTEG_DATA_DIR", {}).get("value") != "/var/lib/integ":
                yield f"{name}: INTEG_DATA_DIR is not /var/lib/integ"
            claim = volumes.get(mounts.get("/var/lib/integ", ""), {}).get("persistentVolumeClaim", {})
            if claim.get("claimName") not in claims:
                yield f"{name}: /var/lib/integ is not a rendered PersistentVolumeClaim"
            used_claims.add(claim.get("claimName", ""))
            if deploy["spec"].get("replicas") != 1:
                yield f"{name}: the data volume needs exactly one replica, got {deploy['spec'].get('replicas')}"
            if deploy["spec"].get("strategy", {}).get("type") != "Recreate":
                yield f"{name}: the data volume needs the Recreate strategy"
        else:
            if "INTEG_DATA_DIR" in env or "/var/lib/integ" in mounts:
                yield f"{name}: has a data directory it does not need"
        if driver == "sqlite" and "INTEG_DATABASE_URL_FILE" in env:
            yield f"{name}: SQLite release also sets INTEG_DATABASE_URL_FILE"
        if driver != "sqlite" and "INTEG_DATABASE_URL_FILE" not in env:
            yield f"{name}: PostgreSQL release lacks INTEG_DATABASE_URL_FILE"
    for claim in sorted(set(claims) - used_claims):
        yield f"PersistentVolumeClaim/{claim} is mounted by no family"
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] in single:
            yield f"HPA/{hpa['metadata']['name']} scales a family that must run one replica"


def check_record_key(objects: list[dict], values: dict[str, Any]) -> Iterable[str]:
    """Identity reads INTEG_RECORD_KEY from the named Secret; several replicas must have it."""
    record_key = values["families"]["identity"].get("recordKey") or {}
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")}
    for deploy in of_kind(objects, "Deployment"):
        name = deploy["metadata"]["name"]
        pod = deploy["spec"]["template"]["spec"]
        container = the_container(deploy)
        env = env_map(container)
        path = env.get("INTEG_RECORD_KEY_FILE", {}).get("value")
        if family_of(deploy) != "identity":
            if path is not None:
                yield f"{name}: only identity reads INTEG_RECORD_KEY"
            continue
        if not record_key.get("existingSecret"):
            if path is not None:
                yield f"{name}: INTEG_RECORD_KEY_FILE set without families.identity.recordKey"
            if name in scaled or deploy["spec"].get("replicas", 1) > 1:
                yield f"{name}: several replicas without a shared INTEG_RECORD_KEY"
            continue
        if path is None:
            yield f"{name}: families.identity.recordKey is set but INTEG_RECORD_KEY_FILE is not"
        elif secret_files(pod, container).get(path) != record_key["existingSecret"]:
            yield f"{name}: INTEG_RECORD_KEY_FILE={path} is not a file of Secret {record_key['existingSecret']}"


def check_scaling(objects: list[dict]) -> Iterable[str]:
    deployments = by_name(objects, "Deployment")
    scaled = set()
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        deploy = deployments.get(target["name"])
        if target.get("kind") != "Deployment" or deploy is None:
            yield f"HPA/{hpa['metadata']['name']} targets nothing rendered"
            continue
        scaled.add(target["name"])
        if "replicas" in deploy["spec"]:
            yield f"{target['name']}: sets replicas while an HPA owns the count"
        if hpa["spec"]["maxReplicas"] < hpa["spec"].get("minReplicas", 1):
            yield f"HPA/{hpa['metadata']['name']}: maxReplicas below minReplicas"
    for name, deploy in deployments.items():
        if name not in scaled and "replicas" not in deploy["spec"]:
            yield f"{name}: no replicas and no HPA"
    for pdb in of_kind(objects, "PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        hits = [n for n, d in deployments.items() if selects(selector, d["spec"]["template"]["metadata"]["labels"])]
        if len(hits) != 1:
            yield f"PDB/{pdb['metadata']['name']} selects {hits}"


def check_labels_and_names(objects: list[dict]) -> Iterable[str]:
    for obj in objects:
        name = obj["metadata"]["name"]
        limit = 63 if obj["kind"] in ("Service", "Deployment") else 253
        if len(name) > limit:
            yield f"{obj['kind']}/{name}: name longer than {limit}"
        if obj["metadata"].get("namespace") != NAMESPACE:
            yield f"{obj['kind']}/{name}: namespace {obj['metadata'].get('namespace')!r}"
    for deploy in of_kind(objects, "Deployment"):
        selector = deploy["spec"]["selector"]["matchLabels"]
        if not selects(selector, deploy["spec"]["template"]["metadata"]["labels"]):
            yield f"{deploy['metadata']['name']}: selector does not match its pod labels"
        if family_of(deploy) not in FAMILIES:
            yield f"{deploy['metadata']['name']}: unknown family label {family_of(deploy)!r}"


def check_network_policy(objects: list[dict], values: dict[str, Any]) -> Iterable[str]:
    np_values = values["networkPolicy"]
    policies = of_kind(objects, "NetworkPolicy")
    deployments = of_kind(objects, "Deployment")
    if not np_values["enabled"]:
        if policies:
            yield "NetworkPolicy rendered while disabled"
        return
    want = {
        "grpc": np_values["grpcClients"],
        "webhooks": [np_values["ingressController"]],
        "metrics": [np_values["monitoring"]],
    }
    for deploy in deployments:
        labels = deploy["spec"]["template"]["metadata"]["labels"]
        mine = [p for p in policies if selects(p["spec"]["podSelector"].get("matchLabels", {}), labels)]
        name = deploy["metadata"]["name"]
        if len(mine) != 1:
            yield f"{name}: {len(mine)} NetworkPolicies select it"
            continue
        spec = mine[0]["spec"]
        if "Ingress" not in spec.get("policyTypes", []):
            yield f"{name}: NetworkPolicy does not restrict ingress"
        got: dict[str, list] = {}
        for rule in spec.get("ingress", []):
            if not rule.get("from") or not rule.get("ports"):
                yield f"{name}: a rule without 'from' or 'ports' admits too much"
                continue
            for port in rule["ports"]:
                got.setdefault(port["port"], []).extend(rule["from"])
        for port, peers in want.items():
            if peers and got.get(port) != peers:
                yield f"{name}: port {port} admits {got.get(port)}, want {peers}"
        extra = set(got) - set(want)
        if extra:
            yield f"{name}: NetworkPolicy opens unexpected ports {sorted(extra)}"


def check_ingress(objects: list[dict], values: dict[str, Any]) -> Iterable[str]:
    services = by_name(objects, "Service")
    ingresses = of_kind(objects, "Ingress")
    if not values["ingress"]["enabled"] and ingresses:
        yield "Ingress rendered while disabled"
    for ing in ingresses:
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                if not path["path"].startswith("/webhooks/"):
                    yield f"Ingress path {path['path']} is outside /webhooks/"
                if path["path"].rstrip("/") == "/webhooks/sandbox":
                    yield "Ingress exposes the sandbox provider"
                if backend.get("port", {}).get("name") != "webhooks":
                    yield f"Ingress path {path['path']} goes to port {backend.get('port')}"
                if backend["name"] not in services:
                    yield f"Ingress path {path['path']} goes to unknown Service {backend['name']}"


def check_service_monitors(objects: list[dict], values: dict[str, Any]) -> Iterable[str]:
    monitors = of_kind(objects, "ServiceMonitor")
    services = of_kind(objects, "Service")
    if not values["serviceMonitor"]["enabled"]:
        if monitors:
            yield "ServiceMonitor rendered while disabled"
        return
    if len(monitors) != len(of_kind(objects, "Deployment")):
        yield f"{len(monitors)} ServiceMonitors for {len(of_kind(objects, 'Deployment'))} families"
    for mon in monitors:
        selector = mon["spec"]["selector"]["matchLabels"]
        hits = [s for s in services if selects(selector, s["metadata"].get("labels", {}))]
        if len(hits) != 1:
            yield f"ServiceMonitor/{mon['metadata']['name']} selects {len(hits)} Services"
        for ep in mon["spec"]["endpoints"]:
            if ep.get("port") != "metrics" or ep.get("path") != "/metrics":
                yield f"ServiceMonitor/{mon['metadata']['name']} scrapes {ep.get('port')}{ep.get('path')}"


def expect_families(objects: list[dict], enabled: set[str]) -> Iterable[str]:
    got = {family_of(d) for d in of_kind(objects, "Deployment")}
    if got != enabled:
        yield f"Deployments for {sorted(got)}, want {sorted(enabled)}"
    got_svc = {family_of(s) for s in of_kind(objects, "Service")}
    if got_svc != enabled:
        yield f"Services for {sorted(got_svc)}, want {sorted(enabled)}"


# --- refusals ------------------------------------------------------------------------------------


def refusal_problems(chart: helm.Chart, values: dict[str, Any], expect: str | None) -> Iterable[str]:
    """The schema must refuse `values`; the message must mention `expect` and echo no canary."""
    try:
        chart.validate_schema(values)
    except helm.HelmValuesError as err:
        message = str(err)
        if expect and expect not in message:
            yield f"refused, but the message does not mention {expect!r}: {message.strip()}"
        if CANARY in message:
            yield "the refusal echoes the pasted secret"
    else:
        yield "accepted by values.schema.json"
        return
    try:
        render(chart, values)
    except helm.HelmError:
        pass
    else:
        yield "rendered although the schema refuses it"


def expected_mention(path: Path) -> str:
    """The word a refused-*.yaml file's refusal must mention: its "# refusal mentions:" line."""
    match = re.search(r"^# refusal mentions: (\S+)$", path.read_text(), re.M)
    if not match:
        raise ValueError(f"{path.name} has no '# refusal mentions: <word>' line")
    return match.group(1)


def family_values(family: str, **fields: Any) -> dict[str, Any]:
    return {"families": {family: fields}}


POSTGRES = {"database": {"driver": "postgres", "postgres": {"existingSecret": "integ-postgres"}}}

NEGATIVE_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("unknown top-level key", {"replicaCount": 2}, "replicaCount"),
    ("unknown family key", family_values("payments", replica=2), "replica"),
    ("unknown family", {"families": {"billing": {"enabled": True}}}, "billing"),
    ("unknown provider key", family_values("payments", providers=[{"name": "stripe", "apiKey": "x"}]), "apiKey"),
    ("wrong type: replicas as string", family_values("payments", replicas="3"), "replicas"),
    ("wrong type: enabled as string", family_values("storage", enabled="yes"), "enabled"),
    ("wrong type: port out of range", family_values("identity", ports={"grpc": 70000, "webhooks": 1, "metrics": 2}), "grpc"),
    ("provider of another family", family_values("messaging", providers=[{"name": "stripe"}]), "providers"),
    ("sqlite with autoscaling", family_values("payments", autoscaling={"enabled": True}), "autoscaling"),
    ("postgres without a Secret", {"database": {"driver": "postgres"}}, "existingSecret"),
    ("secretKeys without existingSecret", family_values("payments", providers=[{"name": "stripe", "secretKeys": {"API_KEY": "api-key"}}]), "existingSecret"),
    ("secret-named plain setting", family_values("payments", providers=[{"name": "stripe", "settings": {"WEBHOOK_SECRET": "x"}}]), "WEBHOOK_SECRET"),
    ("extraEnv overriding a chart-managed variable", family_values("payments", extraEnv={"INTEG_BIND_HOST": "127.0.0.1"}), "INTEG_BIND_HOST"),
    ("extraEnv with a name the code does not read", family_values("payments", extraEnv={"INTEG_STRIPE_BASE_URL": "https://x"}), "INTEG_STRIPE_BASE_URL"),
    ("extraEnv with another family's failover", family_values("payments", extraEnv={"INTEG_MESSAGING_FAILOVER": True}), "INTEG_MESSAGING_FAILOVER"),
    ("stripe without API_KEY", family_values("payments", providers=[{"name": "stripe", "existingSecret": "integ-stripe", "secretKeys": {"WEBHOOK_SECRET": "webhook-secret"}}]), "API_KEY"),
    ("square without ACCESS_TOKEN", family_values("payments", providers=[{"name": "square", "settings": {"LOCATION_ID": "L1"}}]), "secretKeys"),
    ("square signature key without WEBHOOK_URL", family_values("payments", providers=[{"name": "square", "existingSecret": "integ-square", "secretKeys": {"ACCESS_TOKEN": "t", "WEBHOOK_SIGNATURE_KEY": "k"}, "settings": {"LOCATION_ID": "L1"}}]), "WEBHOOK_URL"),
    ("square WEBHOOK_URL without the signature key", family_values("payments", providers=[{"name": "square", "existingSecret": "integ-square", "secretKeys": {"ACCESS_TOKEN": "t"}, "settings": {"LOCATION_ID": "L1", "WEBHOOK_URL": "https://h/webhooks/square"}}]), "WEBHOOK_SIGNATURE_KEY"),
    ("paypal without CLIENT_ID", family_values("payments", providers=[{"name": "paypal", "existingSecret": "integ-paypal", "secretKeys": {"CLIENT_SECRET": "client-secret"}}]), "settings"),
    ("a setting of another provider", family_values("payments", providers=[{"name": "stripe", "existingSecret": "integ-stripe", "secretKeys": {"API_KEY": "api-key"}, "settings": {"LOCATION_ID": "L1"}}]), "LOCATION_ID"),
    ("a sandbox setting of another family", family_values("payments", providers=[{"name": "sandbox", "settings": {"BUCKETS": "default"}}]), "BUCKETS"),
    ("recordKey outside identity", family_values("payments", recordKey={"existingSecret": "integ-record-key"}), "recordKey"),
    ("identity autoscaling without recordKey", {**POSTGRES, **family_values("identity", autoscaling={"enabled": True})}, "recordKey"),
    ("storage sandbox with three replicas on PostgreSQL", {**POSTGRES, **family_values("storage", replicas=3)}, "replicas"),
]


# --- README coverage ------------------------------------------------------------------------------

OPAQUE_VALUES = {
    "networkPolicy.ingressController",
    "networkPolicy.monitoring",
    "families.<name>.resources",
}


def value_paths(node: Any, prefix: str = "") -> Iterable[str]:
    """Dotted paths of the leaves of values.yaml. Under families, a key every family has is
    written families.<name>.key; a key only some have keeps the family (families.identity.x)."""
    if not isinstance(node, dict) or not node or prefix in OPAQUE_VALUES:
        yield prefix
        return
    seen: set[str] = set()
    for key, child in node.items():
        if prefix == "families":
            shared = set.intersection(*(set(f) for f in node.values() if isinstance(f, dict)))
            for field, grandchild in child.items():
                owner = "<name>" if field in shared else key
                for leaf in value_paths(grandchild, f"families.{owner}.{field}"):
                    if leaf not in seen:
                        seen.add(leaf)
                        yield leaf
            continue
        path = f"{prefix}.{key}" if prefix else key
        for leaf in value_paths(child, path):
            if leaf not in seen:
                seen.add(leaf)
                yield leaf


def check_readme(chart_values: dict[str, Any]) -> Iterable[str]:
    readme = (CHART_DIR / "README.md").read_text()
    for path in value_paths(chart_values):
        if f"`{path}`" not in readme:
            yield f"README.md does not document `{path}`"
    for field in ("name", "existingSecret", "secretKeys", "settings"):
        if f"`providers[].{field}`" not in readme:
            yield f"README.md does not document `providers[].{field}`"
    if ">=1.30.0-0" not in readme:
        yield "README.md does not state the supported Kubernetes range"


def readme_example() -> dict[str, Any]:
    """The values block under "## A production example" in the chart README."""
    readme = (CHART_DIR / "README.md").read_text()
    match = re.search(r"## A production example.*?```yaml\n(.*?)```", readme, re.S)
    if not match:
        raise ValueError("README.md has no production example")
    return yaml.safe_load(match.group(1))


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    started = time.monotonic()
    report = Report()
    try:
        run_all(report)
    except Exception as exc:  # noqa: BLE001 - still print the tally CI reads
        report.check("checker ran to the end", [f"{type(exc).__name__}: {exc}"])
    print(f"# {time.monotonic() - started:.1f}s")
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


def run_all(report: Report) -> None:
    install_schema_cache()
    chart = helm.Chart.load(CHART_DIR)
    defaults = chart.values
    versions = kube_versions()
    print(f"# helm SDK {helm.helm_sdk_version()}, kubernetes-validate {kubernetes_validate.__version__}, "
          f"Kubernetes {versions[0]} to {versions[-1]}")

    meta = chart.metadata
    report.check("Chart.yaml: apiVersion v2, kubeVersion >=1.30.0-0", [
        *(["apiVersion is not v2"] if meta.get("apiVersion") != "v2" else []),
        *([f"kubeVersion is {meta.get('kubeVersion')!r}"] if meta.get("kubeVersion") != ">=1.30.0-0" else []),
    ])
    schema = chart.schema or {}
    report.run("values.schema.json is a valid 2020-12 schema",
               lambda: (jsonschema.Draft202012Validator.check_schema(schema), [])[1])
    report.run("README.md documents every value", lambda: check_readme(defaults))
    report.run("SECRET_SETTINGS matches the secrets the code reads", check_secret_table)
    report.run("values.schema.json accepts the providers the code builds, and no others",
               lambda: check_schema_providers(schema))
    report.run("values.schema.json accepts only setting names the code reads",
               lambda: check_schema_names(schema))

    cases: list[tuple[str, dict[str, Any] | None, set[str], str]] = [
        ("default values", None, set(FAMILIES), RELEASE),
        ("default values, 53-char release name", None, set(FAMILIES), LONG_RELEASE),
        ("examples/one-family.yaml", load_values(EXAMPLES / "one-family.yaml"), {"payments"}, RELEASE),
        ("examples/everything.yaml", load_values(EXAMPLES / "everything.yaml"), set(FAMILIES), RELEASE),
        ("examples/postgres-ha.yaml", load_values(EXAMPLES / "postgres-ha.yaml"), set(FAMILIES), RELEASE),
        ("README production example", readme_example(), {"payments", "identity"}, RELEASE),
    ]
    for label, values, families, release in cases:
        if release == RELEASE:
            for version in (versions[0], versions[-1]):
                report.run(f"{label}: helm lint --strict (Kubernetes {version})",
                           lambda v=values, k=version: lint_problems(v, k))
        try:
            objects = render(chart, values, release)
        except helm.HelmError as err:
            report.check(f"{label}: renders", [str(err)])
            continue
        report.check(f"{label}: renders ({len(objects)} objects)", [])
        merged = chart.merge_values(values)
        for version in versions:
            report.run(f"{label}: kubernetes-validate --strict {version}",
                       lambda o=objects, v=version: validate_objects(o, v))
        deployments = of_kind(objects, "Deployment")
        checks: list[tuple[str, Callable[[], Iterable[str]]]] = [
            ("families rendered", lambda: expect_families(objects, families)),
            ("probes are grpc on the grpc port", lambda: (p for d in deployments for p in check_probes(d))),
            ("Service ports match container ports by name", lambda: check_service_ports(objects)),
            ("bind host and port env match the ports", lambda: (p for d in deployments for p in check_ports_env(d))),
            ("terminationGracePeriodSeconds > preStop sleep + drain grace", lambda: (p for d in deployments for p in check_shutdown(d))),
            ("securityContext, /tmp emptyDir, no ServiceAccount token", lambda: check_security(objects)),
            ("secrets only as files from existing Secrets", lambda: check_secret_wiring(objects)),
            ("store wiring", lambda: check_store(objects, merged)),
            ("identity record key wiring", lambda: check_record_key(objects, merged)),
            ("HPA, replicas and PDB agree", lambda: check_scaling(objects)),
            ("names, namespaces and selectors", lambda: check_labels_and_names(objects)),
            ("NetworkPolicy peers per port", lambda: check_network_policy(objects, merged)),
            ("Ingress serves /webhooks only", lambda: check_ingress(objects, merged)),
            ("ServiceMonitor scrapes /metrics", lambda: check_service_monitors(objects, merged)),
            ("every INTEG_* variable is one the code reads", lambda: (p for d in deployments for p in check_env_names(d))),
        ]
        for name, fn in checks:
            report.run(f"{label}: {name}", fn)

    def everything_has_extras() -> Iterable[str]:
        objects = render(chart, load_values(EXAMPLES / "everything.yaml"))
        for kind in ("Ingress", "ServiceMonitor", "HorizontalPodAutoscaler", "NetworkPolicy",
                     "PodDisruptionBudget", "PersistentVolumeClaim"):
            if not of_kind(objects, kind):
                yield f"no {kind}"
        built = code_known_providers()
        for deploy in of_kind(objects, "Deployment"):
            family = family_of(deploy)
            missing = set(built[family]) - set(providers_of(deploy))
            if missing:
                yield f"{family}: providers {sorted(missing)} are built but not shown"
            if family == "identity" and "INTEG_RECORD_KEY_FILE" not in env_map(the_container(deploy)):
                yield "identity: no record key"

    def ha_replicas() -> Iterable[str]:
        objects = render(chart, load_values(EXAMPLES / "postgres-ha.yaml"))
        for deploy in of_kind(objects, "Deployment"):
            want = 1 if family_of(deploy) == "storage" else 3
            if deploy["spec"].get("replicas") != want:
                yield f"{deploy['metadata']['name']} has {deploy['spec'].get('replicas')} replicas, want {want}"

    report.run("examples/everything.yaml: shows every built provider and every optional object",
               everything_has_extras)
    report.run("examples/postgres-ha.yaml: three replicas per family, one for storage (sandbox)",
               ha_replicas)

    report.run("examples/bad-sqlite-replicas.yaml is refused",
               lambda: refusal_problems(chart, load_values(EXAMPLES / "bad-sqlite-replicas.yaml"), "replicas"))
    for name, values, expect in NEGATIVE_CASES:
        report.run(f"refused: {name}", lambda v=values, e=expect: refusal_problems(chart, v, e))
    refused = sorted(TEST_VALUES.glob("refused-*.yaml"))
    report.check("refused-* values files exist", [] if refused else [f"none in {TEST_VALUES}"])
    for path in refused:
        report.run(f"refused: tests/values/{path.name}",
                   lambda p=path: refusal_problems(chart, load_values(p), expected_mention(p)))
    canaries = sorted(TEST_VALUES.glob("canary-*.yaml"))
    report.check("canary values files exist", [] if canaries else [f"none in {TEST_VALUES}"])
    for path in canaries:
        report.run(f"refused without echo: tests/values/{path.name}",
                   lambda p=path: refusal_problems(chart, load_values(p), None))


def lint_problems(values: dict[str, Any] | None, version: str) -> Iterable[str]:
    result = helm.lint(CHART_DIR, values, strict=True, kube_version=f"v{version}")
    for message in result.get("messages", []):
        if message.get("severity", 0) >= 2:  # 2 = warning (an error under --strict), 3 = error
            yield f"{message.get('path')}: {message.get('error', '').strip()}"
    for error in result.get("errors", []):
        yield error.strip()


if __name__ == "__main__":
    sys.exit(main())
