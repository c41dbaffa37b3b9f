"""Validation of Pods, Namespaces, Nodes and ResourceQuotas, with Kubernetes' paths and messages.

Sources: ``pkg/apis/core/validation/validation.go``, ``pkg/apis/core/helper/helpers.go`` and, in
``k8s.io/apimachinery``, ``pkg/util/validation/validation.go``, ``pkg/api/validate/content/kube.go``,
``pkg/api/validation/objectmeta.go``.

Every validator returns the complete list of ``FieldError`` and never raises for user input. Pods are meant to
be validated after ``defaults.default_pod`` (as the API server does); a few checks only matter for undefaulted
input (a zero probe period, an empty restartPolicy) and report it rather than let it through.

Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from minikube_py.api import field, quantity, types

# ----------------------------------------------------------------------------------------------------
# String format checks (each returns the list of problems, Kubernetes-worded; empty means valid).

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_ERR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_ERR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character"
)
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_KEY_ERR = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
LABEL_KEY_NAME_MAX_LENGTH = 63
LABEL_VALUE_FMT = "(" + LABEL_KEY_FMT + ")?"
LABEL_VALUE_ERR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character"
)
LABEL_VALUE_MAX_LENGTH = 63
ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
ENV_VAR_NAME_ERR = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and "
    "must not start with a digit"
)
HTTP_HEADER_NAME_FMT = "[-A-Za-z0-9]+"
HTTP_HEADER_NAME_ERR = "a valid HTTP header must consist of alphanumeric characters or '-'"
TOTAL_ANNOTATION_SIZE_LIMIT_BYTES = 256 * 1024

IS_NEGATIVE_ERROR_MSG = "must be greater than or equal to 0"
IS_NOT_INTEGER_ERROR_MSG = "must be an integer"
INVALID_QUOTA_RESOURCE_MSG = "must be a standard resource for quota"
MAX_INT32 = 2**31 - 1

# minikube_py starts containers from programs on the node itself: no image ENTRYPOINT to fall back on.
COMMAND_REQUIRED_DETAIL = (
    "minikube_py runs processes from the node's filesystem and does not read image entrypoints; set command"
)

_DNS1123_LABEL_RE = re.compile(f"^{DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{DNS1123_SUBDOMAIN_FMT}$")
_LABEL_KEY_RE = re.compile(f"^{LABEL_KEY_FMT}$")
_LABEL_VALUE_RE = re.compile(f"^{LABEL_VALUE_FMT}$")
_ENV_VAR_NAME_RE = re.compile(f"^{ENV_VAR_NAME_FMT}$")
_HTTP_HEADER_NAME_RE = re.compile(f"^{HTTP_HEADER_NAME_FMT}$")
_PORT_NAME_CHARSET_RE = re.compile("^[-a-z0-9]+$")
_PORT_NAME_LETTER_RE = re.compile("[a-z]")


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """``validation.RegexError``, including its odd ``'a',  or 'b', `` punctuation."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    text = message + " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def inclusive_range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def _full_match(pattern: re.Pattern[str], value: str) -> bool:
    # Go's regexp "$" does not accept a trailing newline, Python's does: use fullmatch.
    return pattern.fullmatch(value) is not None


def is_dns1123_label(value: str) -> list[str]:
    errors: list[str] = []
    if len(value) > DNS1123_LABEL_MAX_LENGTH:
        errors.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _full_match(_DNS1123_LABEL_RE, value):
        if _full_match(_DNS1123_SUBDOMAIN_RE, value):
            errors.append("must not contain dots")
        else:
            errors.append(regex_error(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errors


def is_dns1123_subdomain(value: str) -> list[str]:
    errors: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errors.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _full_match(_DNS1123_SUBDOMAIN_RE, value):
        errors.append(regex_error(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def is_qualified_name(value: str) -> list[str]:
    """A label key (``IsQualifiedName`` / ``IsLabelKey``): optional DNS-subdomain prefix, ``/``, name."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if prefix == "":
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return [
            "a valid label key "
            + regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if name == "":
        errors.append("name part must be non-empty")
    elif len(name) > LABEL_KEY_NAME_MAX_LENGTH:
        errors.append("name part " + max_len_error(LABEL_KEY_NAME_MAX_LENGTH))
    if not _full_match(_LABEL_KEY_RE, name):
        errors.append("name part " + regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errors


def is_valid_label_value(value: str) -> list[str]:
    errors: list[str] = []
    if len(value) > LABEL_VALUE_MAX_LENGTH:
        errors.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _full_match(_LABEL_VALUE_RE, value):
        errors.append(regex_error(LABEL_VALUE_ERR, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def is_env_var_name(value: str) -> list[str]:
    errors: list[str] = []
    if not _full_match(_ENV_VAR_NAME_RE, value):
        errors.append(regex_error(ENV_VAR_NAME_ERR, ENV_VAR_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
    # hasChDirPrefix: names that would be read as directories are refused too.
    if value == ".":
        errors.append("must not be '.'")
    elif value == "..":
        errors.append("must not be '..'")
    elif value.startswith(".."):
        errors.append("must not start with '..'")
    return errors


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(name: str) -> list[str]:
    """An IANA_SVC_NAME: at most 15 of ``[-a-z0-9]``, a letter, no leading, trailing or double hyphen."""
    errors: list[str] = []
    if len(name) > 15:
        errors.append(max_len_error(15))
    if not _full_match(_PORT_NAME_CHARSET_RE, name):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER_RE.search(name):
        errors.append("must contain at least one letter (a-z)")
    if "--" in name:
        errors.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def is_http_header_name(value: str) -> list[str]:
    if _full_match(_HTTP_HEADER_NAME_RE, value):
        return []
    return [regex_error(HTTP_HEADER_NAME_ERR, HTTP_HEADER_NAME_FMT, "X-Header-Name")]


def is_valid_cidr(value: str) -> list[str]:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]
    return [] if "/" in value else ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]


NameValidator = Callable[[str, bool], list[str]]


def _mask_trailing_dash(name: str) -> str:
    # A generateName prefix may end with '-': a random suffix follows it.
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


# ----------------------------------------------------------------------------------------------------
# Field-level helpers


def validate_dns1123_label(value: str, path: field.PathLike) -> list[field.FieldError]:
    return [field.invalid(path, value, msg) for msg in is_dns1123_label(value)]


def validate_dns1123_subdomain(value: str, path: field.PathLike) -> list[field.FieldError]:
    return [field.invalid(path, value, msg) for msg in is_dns1123_subdomain(value)]


def validate_label_name(key: str, path: field.PathLike) -> list[field.FieldError]:
    return [field.invalid(path, key, msg) for msg in is_qualified_name(key)]


def validate_labels(labels: Mapping[str, str], path: field.PathLike) -> list[field.FieldError]:
    """Keys are qualified names, values label values; errors point at the map itself, as in Kubernetes."""
    errors: list[field.FieldError] = []
    for key, value in labels.items():
        errors.extend(validate_label_name(key, path))
        errors.extend(field.invalid(path, value, msg) for msg in is_valid_label_value(value))
    return errors


def validate_annotations(annotations: Mapping[str, str], path: field.PathLike) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    for key in annotations:
        # Annotation keys are qualified names, but case does not matter.
        errors.extend(field.invalid(path, key, msg) for msg in is_qualified_name(key.lower()))
    size = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES:
        errors.append(field.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT_BYTES))
    return errors


def validate_nonnegative(value: int, path: field.PathLike) -> list[field.FieldError]:
    return [field.invalid(path, value, IS_NEGATIVE_ERROR_MSG)] if value < 0 else []


def validate_finalizer_name(name: str, path: field.PathLike) -> list[field.FieldError]:
    errors = [field.invalid(path, name, msg) for msg in is_qualified_name(name)]
    # validateKubeFinalizerName: an unqualified name must be one of the standard ones.
    if "/" not in name and name not in STANDARD_FINALIZERS:
        errors.append(field.invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errors


STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def validate_object_meta(
    meta: types.ObjectMeta,
    requires_namespace: bool,
    name_fn: NameValidator = name_is_dns_subdomain,
    path: field.PathLike = "metadata",
) -> list[field.FieldError]:
    """``ValidateObjectMeta`` on create.

    Unlike the API server (which generates the name before validating), a pod with only ``generateName``
    passes here: the store generates the name when it saves the object.
    """
    base = path if isinstance(path, field.Path) else field.Path(path)
    errors: list[field.FieldError] = []
    if meta.generate_name:
        errors.extend(
            field.invalid(base.child("generateName"), meta.generate_name, msg)
            for msg in name_fn(meta.generate_name, True)
        )
    if meta.name:
        errors.extend(field.invalid(base.child("name"), meta.name, msg) for msg in name_fn(meta.name, False))
    elif not meta.generate_name:
        errors.append(field.required(base.child("name"), "name or generateName is required"))
    if requires_namespace:
        if not meta.namespace:
            errors.append(field.required(base.child("namespace")))
        else:
            errors.extend(
                field.invalid(base.child("namespace"), meta.namespace, msg)
                for msg in name_is_dns_label(meta.namespace, False)
            )
    elif meta.namespace:
        errors.append(field.forbidden(base.child("namespace"), "not allowed on this type"))
    errors.extend(validate_nonnegative(meta.generation, base.child("generation")))
    errors.extend(validate_labels(meta.labels, base.child("labels")))
    errors.extend(validate_annotations(meta.annotations, base.child("annotations")))
    errors.extend(_validate_owner_references(meta.owner_references, base.child("ownerReferences")))
    finalizers_path = base.child("finalizers")
    for i, finalizer in enumerate(meta.finalizers):
        errors.extend(field.invalid(finalizers_path, finalizer, msg) for msg in is_qualified_name(finalizer))
        if "/" not in finalizer and finalizer not in STANDARD_FINALIZERS:
            errors.append(
                field.invalid(
                    finalizers_path.index(i),
                    finalizer,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    if "orphan" in meta.finalizers and "foregroundDeletion" in meta.finalizers:
        errors.append(
            field.invalid(
                finalizers_path, meta.finalizers, "finalizer orphan and foregroundDeletion cannot be both set"
            )
        )
    return errors


def _validate_owner_references(refs: Sequence[types.OwnerReference], path: field.Path) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    controller = ""
    for ref in refs:
        # The version part of "group/version" (or of a bare "version") must not be empty.
        if not ref.api_version.rpartition("/")[2]:
            errors.append(field.invalid(path.child("apiVersion"), ref.api_version, "version must not be empty"))
        if not ref.kind:
            errors.append(field.invalid(path.child("kind"), ref.kind, "must not be empty"))
        if not ref.name:
            errors.append(field.invalid(path.child("name"), ref.name, "must not be empty"))
        if not ref.uid:
            errors.append(field.invalid(path.child("uid"), ref.uid, "must not be empty"))
        if ref.controller:
            current = f"{ref.kind}/{ref.name}"
            if controller:
                errors.append(
                    field.invalid(
                        path,
                        [r.name for r in refs],
                        'Only one reference can have Controller set to true. Found "true" in references for '
                        f"{controller} and {current}",
                    )
                )
            else:
                controller = current
    return errors


# ----------------------------------------------------------------------------------------------------
# Resource names and quantities (pkg/apis/core/helper/helpers.go)

RESOURCE_DEFAULT_NAMESPACE_PREFIX = "kubernetes.io/"
HUGEPAGES_PREFIX = "hugepages-"
REQUESTS_HUGEPAGES_PREFIX = "requests.hugepages-"
STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
STANDARD_RESOURCES = frozenset(
    {
        "cpu", "memory", "ephemeral-storage",
        "requests.cpu", "requests.memory", "requests.ephemeral-storage",
        "limits.cpu", "limits.memory", "limits.ephemeral-storage",
        "pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps",
        "persistentvolumeclaims", "storage", "requests.storage",
        "services.nodeports", "services.loadbalancers",
    }
)  # fmt: skip
STANDARD_QUOTA_RESOURCES = frozenset(
    {
        "cpu", "memory", "ephemeral-storage",
        "requests.cpu", "requests.memory", "requests.storage", "requests.ephemeral-storage",
        "limits.cpu", "limits.memory", "limits.ephemeral-storage",
        "pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "persistentvolumeclaims",
        "configmaps", "services.nodeports", "services.loadbalancers",
    }
)  # fmt: skip
INTEGER_RESOURCES = frozenset(
    {
        "pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps",
        "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
    }
)  # fmt: skip
STANDARD_QUOTA_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort")
_POD_COMPUTE_QUOTA_RESOURCES = frozenset(
    {"cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}
)


def is_hugepage_resource(name: str) -> bool:
    return name.startswith(HUGEPAGES_PREFIX)


def is_native_resource(name: str) -> bool:
    """Unprefixed names and ``*kubernetes.io/`` names belong to Kubernetes itself."""
    return "/" not in name or RESOURCE_DEFAULT_NAMESPACE_PREFIX in name


def is_extended_resource(name: str) -> bool:
    """A vendor resource such as ``example.com/gpu`` (``IsExtendedResourceName``)."""
    if is_native_resource(name) or name.startswith("requests."):
        return False
    return not is_qualified_name("requests." + name)


def is_overcommit_allowed(name: str) -> bool:
    """Requests may be below limits only for native, non-hugepage resources."""
    return is_native_resource(name) and not is_hugepage_resource(name)


def is_integer_resource(name: str) -> bool:
    return name in INTEGER_RESOURCES or is_extended_resource(name)


def is_standard_resource(name: str) -> bool:
    return name in STANDARD_RESOURCES or name.startswith((HUGEPAGES_PREFIX, REQUESTS_HUGEPAGES_PREFIX))


def validate_resource_name(name: str, path: field.PathLike) -> list[field.FieldError]:
    errors = [field.invalid(path, name, msg) for msg in is_qualified_name(name)]
    if errors:
        return errors
    if "/" not in name and not is_standard_resource(name):
        errors.append(field.invalid(path, name, "must be a standard resource type or fully qualified"))
    return errors


def validate_container_resource_name(name: str, path: field.PathLike) -> list[field.FieldError]:
    errors = validate_resource_name(name, path)
    if "/" not in name:
        if name not in STANDARD_CONTAINER_RESOURCES and not is_hugepage_resource(name):
            errors.append(field.invalid(path, name, "must be a standard resource for containers"))
    elif not is_native_resource(name) and not is_extended_resource(name):
        errors.append(field.invalid(path, name, "doesn't follow extended resource name standard"))
    return errors


def validate_quota_resource_name(name: str, path: field.PathLike) -> list[field.FieldError]:
    errors = validate_resource_name(name, path)
    if (
        "/" not in name
        and name not in STANDARD_QUOTA_RESOURCES
        and not name.startswith((HUGEPAGES_PREFIX, REQUESTS_HUGEPAGES_PREFIX))
    ):
        errors.append(field.invalid(path, name, INVALID_QUOTA_RESOURCE_MSG))
    return errors


def validate_resource_quantity_value(
    name: str, value: quantity.Quantity, path: field.PathLike
) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    if value.sign() < 0:
        errors.append(field.invalid(path, value.canonical(), IS_NEGATIVE_ERROR_MSG))
    if is_integer_resource(name) and value.milli_value() % 1000 != 0:
        # Kubernetes passes the Quantity itself here, so the value prints unquoted.
        errors.append(field.invalid(path, value, IS_NOT_INTEGER_ERROR_MSG))
    return errors


def _hugepage_value_error(name: str, value: quantity.Quantity) -> str:
    """``IsHugePageResourceValueDivisible``: the amount must be a positive multiple of the page size."""
    message = f"{value.canonical()} is not positive integer multiple of {name}"
    try:
        page = quantity.Quantity.parse(name[len(HUGEPAGES_PREFIX) :])
    except quantity.QuantityError:
        return message
    page_bytes = page.value()
    if page_bytes <= 0 or page.milli_value() % 1000 != 0 or value.milli_value() % 1000 != 0:
        return message
    if value.value() % page_bytes != 0:
        return message
    return ""


def validate_container_resources(resources: types.ResourceRequirements, path: field.Path) -> list[field.FieldError]:
    """``ValidateContainerResourceRequirements``: names, quantities, request <= limit (== when required)."""
    errors: list[field.FieldError] = []
    limits_path = path.child("limits")
    requests_path = path.child("requests")
    has_compute = False
    has_hugepages = False
    for name, value in resources.limits.items():
        key_path = limits_path.key(name)
        errors.extend(validate_container_resource_name(name, key_path))
        errors.extend(validate_resource_quantity_value(name, value, key_path))
        if is_hugepage_resource(name):
            has_hugepages = True
            problem = _hugepage_value_error(name, value)
            if problem:
                errors.append(field.invalid(key_path, value.canonical(), problem))
        has_compute = has_compute or name in ("cpu", "memory")
    for name, value in resources.requests.items():
        key_path = requests_path.key(name)
        errors.extend(validate_container_resource_name(name, key_path))
        errors.extend(validate_resource_quantity_value(name, value, key_path))
        limit = resources.limits.get(name)
        if limit is not None:
            if value != limit and not is_overcommit_allowed(name):
                errors.append(
                    field.invalid(
                        requests_path,
                        value.canonical(),
                        f"must be equal to {name} limit of {limit.canonical()}",
                    )
                )
            elif value > limit:
                errors.append(
                    field.invalid(
                        requests_path,
                        value.canonical(),
                        f"must be less than or equal to {name} limit of {limit.canonical()}",
                    )
                )
        elif not is_overcommit_allowed(name):
            errors.append(field.required(limits_path, "Limit must be set for non overcommitable resources"))
        if is_hugepage_resource(name):
            has_hugepages = True
            problem = _hugepage_value_error(name, value)
            if problem:
                errors.append(field.invalid(key_path, value.canonical(), problem))
        has_compute = has_compute or name in ("cpu", "memory")
    if has_hugepages and not has_compute:
        errors.append(field.forbidden(path, "HugePages require cpu or memory"))
    return errors


# ----------------------------------------------------------------------------------------------------
# Containers

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
HTTP_SCHEMES = ("HTTP", "HTTPS")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_OPERATORS = ("Equal", "Exists")
ENV_VALUE_FROM_SOURCES = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
NOT_FOR_PLAIN_INIT = "may not be set for init containers without restartPolicy=Always"


def _validate_ports(ports: Sequence[types.ContainerPort], path: field.Path) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        port_path = path.index(i)
        if port.name:
            problems = is_valid_port_name(port.name)
            if problems:
                errors.extend(field.invalid(port_path.child("name"), port.name, msg) for msg in problems)
            elif port.name in names:
                errors.append(field.duplicate(port_path.child("name"), port.name))
            else:
                names.add(port.name)
        if port.container_port == 0:
            errors.append(field.required(port_path.child("containerPort")))
        else:
            errors.extend(
                field.invalid(port_path.child("containerPort"), port.container_port, msg)
                for msg in is_valid_port_num(port.container_port)
            )
        if port.host_port != 0:
            errors.extend(
                field.invalid(port_path.child("hostPort"), port.host_port, msg)
                for msg in is_valid_port_num(port.host_port)
            )
        if port.protocol == "":
            errors.append(field.required(port_path.child("protocol")))
        elif port.protocol not in PORT_PROTOCOLS:
            errors.append(field.not_supported(port_path.child("protocol"), port.protocol, PORT_PROTOCOLS))
    return errors


def _validate_env(env: Sequence[types.EnvVar], path: field.Path) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    for i, var in enumerate(env):
        var_path = path.index(i)
        if var.name == "":
            errors.append(field.required(var_path.child("name")))
        else:
            errors.extend(field.invalid(var_path.child("name"), var.name, msg) for msg in is_env_var_name(var.name))
        if var.value_from is None:
            continue
        from_path = var_path.child("valueFrom")
        sources = sum(1 for key in ENV_VALUE_FROM_SOURCES if var.value_from.get(key) is not None)
        if sources == 0:
            errors.append(
                field.invalid(
                    from_path,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                )
            )
        elif var.value != "":
            errors.append(field.invalid(from_path, "", "may not be specified when `value` is not empty"))
        elif sources > 1:
            errors.append(field.invalid(from_path, "", "may not have more than one field specified at a time"))
    return errors


def _validate_volume_mounts(
    mounts: Sequence[types.VolumeMount], volumes: set[str], path: field.Path
) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    mount_points: set[str] = set()
    for i, mount in enumerate(mounts):
        mount_path = path.index(i)
        if mount.name == "":
            errors.append(field.required(mount_path.child("name")))
        if mount.name not in volumes:
            errors.append(field.not_found(mount_path.child("name"), mount.name))
        if mount.mount_path == "":
            errors.append(field.required(mount_path.child("mountPath")))
        if mount.mount_path in mount_points:
            errors.append(field.invalid(mount_path.child("mountPath"), mount.mount_path, "must be unique"))
        mount_points.add(mount.mount_path)
    return errors


def _validate_probe_port(port: int | str, container: types.Container, path: field.Path) -> list[field.FieldError]:
    if isinstance(port, int):
        return [field.invalid(path, port, msg) for msg in is_valid_port_num(port)]
    problems = is_valid_port_name(port)
    if problems:
        return [field.invalid(path, port, msg) for msg in problems]
    if all(p.name != port for p in container.ports):
        # The kubelet resolves a named probe port among the container's own ports.
        return [field.not_found(path, port, "must be the name of a port declared by this container")]
    return []


def _validate_handler(probe: types.Probe, container: types.Container, path: field.Path) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    handlers = 0
    if probe.exec is not None:
        handlers += 1
        if not probe.exec.command:
            errors.append(field.required(path.child("exec", "command")))
    if probe.http_get is not None:
        handler_path = path.child("httpGet")
        if handlers:
            errors.append(field.forbidden(handler_path, "may not specify more than 1 handler type"))
        else:
            handlers += 1
            action = probe.http_get
            if action.path == "":
                errors.append(field.required(handler_path.child("path")))
            errors.extend(_validate_probe_port(action.port, container, handler_path.child("port")))
            if action.scheme not in HTTP_SCHEMES:
                errors.append(field.not_supported(handler_path.child("scheme"), action.scheme, HTTP_SCHEMES))
            for header in action.http_headers:
                errors.extend(
                    field.invalid(handler_path.child("httpHeaders"), header.name, msg)
                    for msg in is_http_header_name(header.name)
                )
    if probe.tcp_socket is not None:
        handler_path = path.child("tcpSocket")
        if handlers:
            errors.append(field.forbidden(handler_path, "may not specify more than 1 handler type"))
        else:
            handlers += 1
            errors.extend(_validate_probe_port(probe.tcp_socket.port, container, handler_path.child("port")))
    if probe.grpc is not None:
        handler_path = path.child("grpc")
        if handlers:
            errors.append(field.forbidden(handler_path, "may not specify more than 1 handler type"))
        else:
            handlers += 1
            errors.extend(
                field.invalid(handler_path.child("port"), probe.grpc.port, msg)
                for msg in is_valid_port_num(probe.grpc.port)
            )
    if handlers == 0:
        errors.append(field.required(path, "must specify a handler type"))
    return errors


def validate_probe(
    probe: types.Probe, container: types.Container, path: field.Path, kind: str
) -> list[field.FieldError]:
    """One probe; ``kind`` is ``liveness``, ``readiness`` or ``startup``."""
    errors = _validate_handler(probe, container, path)
    errors.extend(validate_nonnegative(probe.initial_delay_seconds, path.child("initialDelaySeconds")))
    for name, value in (
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ):
        if value < 0:
            errors.append(field.invalid(path.child(name), value, IS_NEGATIVE_ERROR_MSG))
        elif value == 0:
            # Only reachable without defaulting, which turns 0 into the default.
            errors.append(field.invalid(path.child(name), value, "must be greater than or equal to 1"))
    grace = probe.termination_grace_period_seconds
    if grace is not None and grace <= 0:
        errors.append(field.invalid(path.child("terminationGracePeriodSeconds"), grace, "must be greater than 0"))
    if kind in ("liveness", "startup") and probe.success_threshold != 1:
        errors.append(field.invalid(path.child("successThreshold"), probe.success_threshold, "must be 1"))
    if kind == "readiness" and grace is not None:
        errors.append(
            field.invalid(path.child("terminationGracePeriodSeconds"), grace, "must not be set for readinessProbes")
        )
    return errors


def _validate_probes(container: types.Container, path: field.Path) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    for kind, probe in (
        ("liveness", container.liveness_probe),
        ("readiness", container.readiness_probe),
        ("startup", container.startup_probe),
    ):
        if probe is not None:
            errors.extend(validate_probe(probe, container, path.child(f"{kind}Probe"), kind))
    return errors


def _validate_container_common(
    container: types.Container, volumes: set[str], path: field.Path
) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    if container.name == "":
        errors.append(field.required(path.child("name")))
    else:
        errors.extend(validate_dns1123_label(container.name, path.child("name")))
    if not container.command:
        errors.append(field.required(path.child("command"), COMMAND_REQUIRED_DETAIL))
    policy = container.termination_message_policy
    if policy == "":
        errors.append(field.required(path.child("terminationMessagePolicy")))
    elif policy not in TERMINATION_MESSAGE_POLICIES:
        errors.append(field.not_supported(path.child("terminationMessagePolicy"), policy, TERMINATION_MESSAGE_POLICIES))
    errors.extend(_validate_ports(container.ports, path.child("ports")))
    errors.extend(_validate_env(container.env, path.child("env")))
    errors.extend(_validate_volume_mounts(container.volume_mounts, volumes, path.child("volumeMounts")))
    if container.image_pull_policy == "":
        errors.append(field.required(path.child("imagePullPolicy")))
    elif container.image_pull_policy not in PULL_POLICIES:
        errors.append(field.not_supported(path.child("imagePullPolicy"), container.image_pull_policy, PULL_POLICIES))
    errors.extend(validate_container_resources(container.resources, path.child("resources")))
    return errors


def _host_port_conflicts(containers: Iterable[tuple[field.Path, types.Container]]) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    seen: set[str] = set()
    for container_path, container in containers:
        for i, port in enumerate(container.ports):
            if port.host_port == 0:
                continue
            key = f"{port.protocol}/{port.host_ip}/{port.host_port}"
            if key in seen:
                errors.append(field.duplicate(container_path.child("ports").index(i).child("hostPort"), key))
            seen.add(key)
    return errors


def _validate_containers(spec: types.PodSpec, volumes: set[str], path: field.Path) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    containers_path = path.child("containers")
    if not spec.containers:
        errors.append(field.required(containers_path))
    names: set[str] = set()
    for i, container in enumerate(spec.containers):
        container_path = containers_path.index(i)
        errors.extend(_validate_container_common(container, volumes, container_path))
        if container.name in names:
            errors.append(field.duplicate(container_path.child("name"), container.name))
        else:
            names.add(container.name)
        errors.extend(_validate_probes(container, container_path))
        if container.restart_policy is not None:
            errors.append(
                field.forbidden(container_path.child("restartPolicy"), "may not be set for non-init containers")
            )
    errors.extend(_host_port_conflicts((containers_path.index(i), c) for i, c in enumerate(spec.containers)))

    init_path = path.child("initContainers")
    for i, container in enumerate(spec.init_containers):
        container_path = init_path.index(i)
        errors.extend(_validate_container_common(container, volumes, container_path))
        restartable = False
        if container.restart_policy is not None:
            if container.restart_policy != "Always":
                errors.append(
                    field.not_supported(container_path.child("restartPolicy"), container.restart_policy, ["Always"])
                )
            restartable = container.restart_policy == "Always"
        if container.name in names:
            errors.append(field.duplicate(container_path.child("name"), container.name))
        elif container.name:
            names.add(container.name)
        # Init containers run one at a time, so host ports only conflict within one of them.
        errors.extend(_host_port_conflicts([(container_path, container)]))
        if restartable:
            errors.extend(_validate_probes(container, container_path))
        else:
            if container.lifecycle is not None:
                errors.append(field.forbidden(container_path.child("lifecycle"), NOT_FOR_PLAIN_INIT))
            for kind, probe in (
                ("liveness", container.liveness_probe),
                ("readiness", container.readiness_probe),
                ("startup", container.startup_probe),
            ):
                if probe is not None:
                    errors.append(field.forbidden(container_path.child(f"{kind}Probe"), NOT_FOR_PLAIN_INIT))
    return errors


# ----------------------------------------------------------------------------------------------------
# Pod spec


def _validate_volumes(volumes: Sequence[types.Volume], path: field.Path) -> tuple[set[str], list[field.FieldError]]:
    errors: list[field.FieldError] = []
    names: set[str] = set()
    for i, volume in enumerate(volumes):
        volume_path = path.index(i)
        volume_errors: list[field.FieldError] = []
        sources = 0
        if volume.empty_dir is not None:
            sources += 1
            limit = volume.empty_dir.size_limit
            if limit is not None and limit.sign() < 0:
                volume_errors.append(
                    field.forbidden(
                        volume_path.child("emptyDir", "sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    )
                )
        for source in volume.other_sources:
            if sources:
                volume_errors.append(
                    field.forbidden(volume_path.child(source), "may not specify more than 1 volume type")
                )
            sources += 1
        if sources == 0:
            volume_errors.append(field.required(volume_path, "must specify a volume type"))
        name_path = volume_path.child("name")
        if volume.name == "":
            volume_errors.append(field.required(name_path))
        else:
            volume_errors.extend(validate_dns1123_label(volume.name, name_path))
        if volume.name in names:
            volume_errors.append(field.duplicate(name_path, volume.name))
        if volume_errors:
            errors.extend(volume_errors)
        else:
            names.add(volume.name)
    return names, errors


def validate_tolerations(tolerations: Sequence[types.Toleration], path: field.Path) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    for i, toleration in enumerate(tolerations):
        item = path.index(i)
        if toleration.key:
            errors.extend(validate_label_name(toleration.key, item.child("key")))
        if toleration.key == "" and toleration.operator != "Exists":
            errors.append(
                field.invalid(
                    item.child("operator"),
                    toleration.operator,
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if toleration.toleration_seconds is not None and toleration.effect != "NoExecute":
            errors.append(
                field.invalid(
                    item.child("effect"),
                    toleration.effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if toleration.operator in ("Equal", ""):
            problems = is_valid_label_value(toleration.value)
            if problems:
                # Kubernetes reports the value under the operator's path.
                errors.append(field.invalid(item.child("operator"), toleration.value, ";".join(problems)))
        elif toleration.operator == "Exists":
            if toleration.value:
                errors.append(
                    field.invalid(
                        item.child("operator"),
                        toleration.value,
                        "value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            errors.append(field.not_supported(item.child("operator"), toleration.operator, TOLERATION_OPERATORS))
        if toleration.effect and toleration.effect not in TAINT_EFFECTS:
            errors.append(field.not_supported(item.child("effect"), toleration.effect, TAINT_EFFECTS))
    return errors


def _validate_node_selector_requirement(
    requirement: types.NodeSelectorRequirement, path: field.Path, check_values: bool
) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    operator = requirement.operator
    values_path = path.child("values")
    if operator in ("In", "NotIn"):
        if not requirement.values:
            errors.append(field.required(values_path, "must be specified when `operator` is 'In' or 'NotIn'"))
    elif operator in ("Exists", "DoesNotExist"):
        if requirement.values:
            errors.append(
                field.forbidden(values_path, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
            )
    elif operator in ("Gt", "Lt"):
        if len(requirement.values) != 1:
            errors.append(field.required(values_path, "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    else:
        errors.append(field.invalid(path.child("operator"), operator, "not a valid selector operator"))
    errors.extend(validate_label_name(requirement.key, path.child("key")))
    if check_values:
        for i, value in enumerate(requirement.values):
            errors.extend(field.invalid(values_path.index(i), value, msg) for msg in is_valid_label_value(value))
    return errors


def _validate_node_field_requirement(
    requirement: types.NodeSelectorRequirement, path: field.Path
) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    if requirement.operator in ("In", "NotIn"):
        if len(requirement.values) != 1:
            errors.append(
                field.required(
                    path.child("values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                )
            )
    else:
        errors.append(field.invalid(path.child("operator"), requirement.operator, "not a valid selector operator"))
    if requirement.key != "metadata.name":
        errors.append(field.invalid(path.child("key"), requirement.key, "not a valid field selector key"))
    else:
        for i, value in enumerate(requirement.values):
            errors.extend(
                field.invalid(path.child("values").index(i), value, msg) for msg in name_is_dns_subdomain(value, False)
            )
    return errors


def _validate_node_selector_term(
    term: types.NodeSelectorTerm, path: field.Path, check_values: bool
) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    for j, requirement in enumerate(term.match_expressions):
        errors.extend(
            _validate_node_selector_requirement(requirement, path.child("matchExpressions").index(j), check_values)
        )
    for j, requirement in enumerate(term.match_fields):
        errors.extend(_validate_node_field_requirement(requirement, path.child("matchFields").index(j)))
    return errors


def validate_affinity(affinity: types.Affinity, path: field.Path) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    node_affinity = affinity.node_affinity
    if node_affinity is None:
        return errors
    na_path = path.child("nodeAffinity")
    required = node_affinity.required_during_scheduling_ignored_during_execution
    if required is not None:
        terms_path = na_path.child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
        if not required.node_selector_terms:
            errors.append(field.required(terms_path, "must have at least one node selector term"))
        for i, term in enumerate(required.node_selector_terms):
            errors.extend(_validate_node_selector_term(term, terms_path.index(i), check_values=True))
    preferred_path = na_path.child("preferredDuringSchedulingIgnoredDuringExecution")
    for i, preferred in enumerate(node_affinity.preferred_during_scheduling_ignored_during_execution):
        if not 1 <= preferred.weight <= 100:
            errors.append(
                field.invalid(preferred_path.index(i).child("weight"), preferred.weight, "must be in the range 1-100")
            )
        # Preferred terms may carry any label value: they can still match on a one-node cluster.
        errors.extend(
            _validate_node_selector_term(preferred.preference, preferred_path.index(i).child("preference"), False)
        )
    return errors


def validate_pod_spec(spec: types.PodSpec, path: field.Path | None = None) -> list[field.FieldError]:
    base = path if path is not None else field.Path("spec")
    errors: list[field.FieldError] = []
    if spec.termination_grace_period_seconds is None:
        errors.append(field.required(base.child("terminationGracePeriodSeconds")))
    else:
        errors.extend(
            validate_nonnegative(spec.termination_grace_period_seconds, base.child("terminationGracePeriodSeconds"))
        )
    volumes, volume_errors = _validate_volumes(spec.volumes, base.child("volumes"))
    errors.extend(volume_errors)
    errors.extend(_validate_containers(spec, volumes, base))
    if spec.host_network:
        containers_path = base.child("containers")
        for i, container in enumerate(spec.containers):
            for j, port in enumerate(container.ports):
                if port.host_port != port.container_port:
                    errors.append(
                        field.invalid(
                            containers_path.index(i).child("ports").index(j).child("hostPort"),
                            port.host_port,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    if spec.restart_policy == "":
        errors.append(field.required(base.child("restartPolicy")))
    elif spec.restart_policy not in RESTART_POLICIES:
        errors.append(field.not_supported(base.child("restartPolicy"), spec.restart_policy, RESTART_POLICIES))
    if spec.dns_policy == "":
        errors.append(field.required(base.child("dnsPolicy")))
    elif spec.dns_policy not in DNS_POLICIES:
        errors.append(field.not_supported(base.child("dnsPolicy"), spec.dns_policy, DNS_POLICIES))
    errors.extend(validate_labels(spec.node_selector, base.child("nodeSelector")))
    if spec.share_process_namespace and spec.host_pid:
        # Kubernetes keeps both in its internal PodSecurityContext, hence this path.
        errors.append(
            field.invalid(
                base.child("securityContext", "shareProcessNamespace"),
                True,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            )
        )
    if spec.affinity is not None:
        errors.extend(validate_affinity(spec.affinity, base.child("affinity")))
    if spec.node_name:
        errors.extend(
            field.invalid(base.child("nodeName"), spec.node_name, msg)
            for msg in name_is_dns_subdomain(spec.node_name, False)
        )
    if spec.active_deadline_seconds is not None and not 1 <= spec.active_deadline_seconds <= MAX_INT32:
        errors.append(
            field.invalid(
                base.child("activeDeadlineSeconds"),
                spec.active_deadline_seconds,
                inclusive_range_error(1, MAX_INT32),
            )
        )
    if spec.hostname:
        errors.extend(validate_dns1123_label(spec.hostname, base.child("hostname")))
    if spec.subdomain:
        errors.extend(validate_dns1123_label(spec.subdomain, base.child("subdomain")))
    errors.extend(validate_tolerations(spec.tolerations, base.child("tolerations")))
    if spec.priority_class_name:
        errors.extend(
            field.invalid(base.child("priorityClassName"), spec.priority_class_name, msg)
            for msg in name_is_dns_subdomain(spec.priority_class_name, False)
        )
    if spec.preemption_policy is not None:
        if spec.preemption_policy == "":
            errors.append(field.required(base.child("preemptionPolicy")))
        elif spec.preemption_policy not in PREEMPTION_POLICIES:
            errors.append(
                field.not_supported(base.child("preemptionPolicy"), spec.preemption_policy, PREEMPTION_POLICIES)
            )
    if spec.overhead:
        # validateOverhead reuses the container rules, with the overhead as limits.
        errors.extend(
            validate_container_resources(types.ResourceRequirements(limits=spec.overhead), base.child("overhead"))
        )
    return errors


def validate_pod(pod: types.Pod) -> list[field.FieldError]:
    """Every problem with a (defaulted) Pod, as ``ValidatePodCreate`` reports it, plus our own rules."""
    errors = validate_object_meta(pod.metadata, True, name_is_dns_subdomain, field.Path("metadata"))
    errors.extend(validate_pod_spec(pod.spec, field.Path("spec")))
    return errors


# ----------------------------------------------------------------------------------------------------
# Namespace, Node, ResourceQuota


def validate_namespace(namespace: types.Namespace) -> list[field.FieldError]:
    errors = validate_object_meta(namespace.metadata, False, name_is_dns_label, field.Path("metadata"))
    finalizers_path = field.Path("spec", "finalizers")
    for finalizer in namespace.spec.finalizers:
        errors.extend(validate_finalizer_name(finalizer, finalizers_path))
    return errors


def validate_taints(taints: Sequence[types.Taint], path: field.Path) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(taints):
        item = path.index(i)
        errors.extend(validate_label_name(taint.key, item.child("key")))
        problems = is_valid_label_value(taint.value)
        if problems:
            errors.append(field.invalid(item.child("value"), taint.value, ";".join(problems)))
        if taint.effect == "":
            errors.append(field.required(item.child("effect")))
        elif taint.effect not in TAINT_EFFECTS:
            errors.append(field.not_supported(item.child("effect"), taint.effect, TAINT_EFFECTS))
        if (taint.key, taint.effect) in seen:
            errors.append(
                field.FieldError(
                    field.ErrorType.DUPLICATE,
                    str(item),
                    {"key": taint.key, "value": taint.value, "effect": taint.effect},
                    "taints must be unique by key and effect pair",
                )
            )
            continue
        seen.add((taint.key, taint.effect))
    return errors


def validate_node(node: types.Node) -> list[field.FieldError]:
    errors = validate_object_meta(node.metadata, False, name_is_dns_subdomain, field.Path("metadata"))
    errors.extend(validate_taints(node.spec.taints, field.Path("spec", "taints")))
    for section, resources in (("capacity", node.status.capacity), ("allocatable", node.status.allocatable)):
        for name, value in resources.items():
            errors.extend(validate_resource_quantity_value(name, value, field.Path("status", section, name)))
    cidrs_path = field.Path("spec", "podCIDRs")
    for i, cidr in enumerate(node.spec.pod_cidrs):
        errors.extend(field.invalid(cidrs_path.index(i), cidr, msg) for msg in is_valid_cidr(cidr))
    if len(node.spec.pod_cidrs) > 1:
        families = set()
        for cidr in node.spec.pod_cidrs:
            try:
                families.add(ipaddress.ip_network(cidr, strict=False).version)
            except ValueError:
                continue
        if len(families) != len(node.spec.pod_cidrs):
            errors.append(
                field.invalid(cidrs_path, node.spec.pod_cidrs, "may specify no more than one CIDR for each IP family")
            )
    if node.spec.pod_cidr:
        errors.extend(
            field.invalid(field.Path("spec", "podCIDR"), node.spec.pod_cidr, msg)
            for msg in is_valid_cidr(node.spec.pod_cidr)
        )
    return errors


def _validate_quota_list(resources: Mapping[str, quantity.Quantity], path: field.Path) -> list[field.FieldError]:
    errors: list[field.FieldError] = []
    for name, value in resources.items():
        key_path = path.key(name)
        errors.extend(validate_quota_resource_name(name, key_path))
        errors.extend(validate_resource_quantity_value(name, value, key_path))
    return errors


def validate_resource_quota(quota: types.ResourceQuota) -> list[field.FieldError]:
    errors = validate_object_meta(quota.metadata, True, name_is_dns_subdomain, field.Path("metadata"))
    errors.extend(_validate_quota_list(quota.spec.hard, field.Path("spec", "hard")))
    scopes = quota.spec.scopes
    scopes_path = field.Path("spec", "scopes")
    for scope in scopes:
        if scope not in STANDARD_QUOTA_SCOPES:
            errors.append(field.invalid(scopes_path, scopes, "unsupported scope"))
        for name in sorted(quota.spec.hard):
            is_standard = name in STANDARD_QUOTA_RESOURCES or name.startswith(
                (HUGEPAGES_PREFIX, REQUESTS_HUGEPAGES_PREFIX)
            )
            if is_standard and not _scope_applies(scope, name):
                errors.append(field.invalid(scopes_path, scopes, "unsupported scope applied to resource"))
    for pair in (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")):
        if all(scope in scopes for scope in pair):
            errors.append(field.invalid(scopes_path, scopes, "conflicting scopes"))
    errors.extend(_validate_quota_list(quota.status.hard, field.Path("status", "hard")))
    errors.extend(_validate_quota_list(quota.status.used, field.Path("status", "used")))
    return errors


def _scope_applies(scope: str, resource: str) -> bool:
    """``IsResourceQuotaScopeValidForResource``: BestEffort quotas can only count pods."""
    if scope in ("Terminating", "NotTerminating", "NotBestEffort"):
        return resource == "pods" or resource in _POD_COMPUTE_QUOTA_RESOURCES
    if scope == "BestEffort":
        return resource == "pods"
    return True


def validate_object(obj: object) -> list[field.FieldError]:
    """Validate any kind that has rules here; other kinds have none."""
    if isinstance(obj, types.Pod):
        return validate_pod(obj)
    if isinstance(obj, types.Namespace):
        return validate_namespace(obj)
    if isinstance(obj, types.Node):
        return validate_node(obj)
    if isinstance(obj, types.ResourceQuota):
        return validate_resource_quota(obj)
    return []
