"""Read a synthesized template the way a reviewer would: functions by handler, their roles' IAM statements, and
intrinsic functions rendered as readable strings."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

Template = Mapping[str, Any]
Statement = Mapping[str, Any]


def resources(template: Template, resource_type: str) -> dict[str, Mapping[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def function_by_handler(template: Template, handler: str) -> tuple[str, Mapping[str, Any]]:
    found = [
        (logical_id, resource["Properties"])
        for logical_id, resource in resources(template, "AWS::Lambda::Function").items()
        if resource["Properties"].get("Handler") == handler
    ]
    assert len(found) == 1, f"expected one function with handler {handler}, found {len(found)}"
    return found[0]


def role_of(template: Template, handler: str) -> str:
    _, props = function_by_handler(template, handler)
    return props["Role"]["Fn::GetAtt"][0]


def role_statements(template: Template, role_logical_id: str) -> list[Statement]:
    """Every statement of every inline or attached policy resource that names the role."""
    statements: list[Statement] = []
    for resource in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in resource["Properties"].get("Roles", []):
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    role = template["Resources"][role_logical_id]["Properties"]
    for policy in role.get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    return statements


def function_statements(template: Template, handler: str) -> list[Statement]:
    return role_statements(template, role_of(template, handler))


def all_policy_statements(template: Template) -> Iterator[tuple[str, Statement]]:
    """(resource logical id, statement) for every identity policy statement in the template."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in props["PolicyDocument"]["Statement"]:
                yield logical_id, statement
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield logical_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions(statement: Statement) -> list[str]:
    return as_list(statement.get("Action", []))


def render(value: Any) -> str:
    """An intrinsic as text: `${AWS::Region}` stays a placeholder, a Ref/GetAtt becomes `${LogicalId}`."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and len(value) == 1:
        ((function, args),) = value.items()
        if function == "Ref":
            return f"${{{args}}}"
        if function == "Fn::GetAtt":
            return f"${{{args[0]}.{args[1]}}}"
        if function == "Fn::Join":
            return args[0].join(render(part) for part in args[1])
        if function == "Fn::Sub":
            if isinstance(args, str):
                return args
            text, variables = args
            return re.sub(r"\$\{([^}!]+)\}", lambda m: render(variables[m[1]]) if m[1] in variables else m[0], text)
    raise AssertionError(f"cannot render {value!r}")


# The only wildcards a policy of this stack may hold, each anchored to one exact shape, with the reason it is there.
ALLOWED_RESOURCE_WILDCARDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"^arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{[A-Za-z0-9]+\}"
            r"/[A-Za-z0-9_-]+/POST/@connections/\*$"
        ),
        "@connections: connection ids are minted per client at run time; pinned to this API, stage and POST",
    ),
    (
        re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-\?{6}$"),
        "Secrets Manager: a secret named by partial ARN gets `-??????`, AWS's documented match for the random "
        "6-character suffix it appends to every secret ARN (exactly six characters, never a path)",
    ),
    (
        re.compile(r"^\$\{AttachmentsBucket[A-Za-z0-9]+\.Arn\}/attachments/\*$"),
        "Attachments: object keys are minted per upload at run time; pinned to the attachments bucket's "
        "`attachments/` prefix (one action per function: PutObject for attach, GetObject for sendtext)",
    ),
)


def allowed_wildcard(resource: str) -> str | None:
    """The reason a wildcard resource is allowed, or None."""
    return next((reason for pattern, reason in ALLOWED_RESOURCE_WILDCARDS if pattern.match(resource)), None)


def wildcard_problems(statement: Statement) -> list[str]:
    """What makes a statement too broad: `*` as resource or action, a whole-service or partial action (`s3:*`,
    `s3:Get*`), any `*` or `?` in a resource that is not one of ALLOWED_RESOURCE_WILDCARDS, or
    NotResource/NotAction."""
    problems = [f"uses {key}" for key in ("NotResource", "NotAction") if key in statement]
    for action in actions(statement):
        if "*" in action or "?" in action:
            problems.append(f"action {action}")
    for resource in as_list(statement.get("Resource", [])):
        text = render(resource)
        if text == "*":
            problems.append("resource *")
        elif ("*" in text or "?" in text) and allowed_wildcard(text) is None:
            problems.append(f"resource {text}")
    return problems
