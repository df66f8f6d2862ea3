# ruff: noqa
# Privileged actions with no authorisation check (CWE-863).
USERS: dict = {}


def change_role(current_user: dict, target_id: str, new_role: str):
    # ruleid: py.authz.privileged-unchecked
    # ruleid: py.authz.missing-check
    USERS[target_id]["role"] = new_role


def change_role_checked(current_user: dict, target_id: str, new_role: str):
    if current_user.get("role") != "admin":
        raise PermissionError("admins only")
    # ok: py.authz.privileged-unchecked
    USERS[target_id]["role"] = new_role


def require_admin(user: dict) -> None:
    if user.get("role") != "admin":
        raise PermissionError("admins only")


def delete_account(requester: dict, account_id: str):
    require_admin(requester)
    # ok: py.authz.privileged-unchecked
    del USERS[account_id]


def delete_any_account(requester: dict, account_id: str):
    print("deleting", account_id, "for", requester)
    # ruleid: py.authz.privileged-unchecked
    USERS.pop(account_id)


def rename(current_user: dict, target_id: str, name: str):
    # ok: py.authz.privileged-unchecked
    # ruleid: py.authz.missing-check
    USERS[target_id]["name"] = name
