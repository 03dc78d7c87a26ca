"""pymssql 2.2.2 (Debian's python3-pymssql, run with /usr/bin/python3) against pcdr-sim.

Run by pcdr-sim/tests/interop.rs, which serves a world and passes where the backup
instance listens, the login's password, and a log backup too recent for its mgc:

    /usr/bin/python3 pymssql_check.py HOST PORT PASSWORD TOO_RECENT_TRN

Each check prints one line starting with "ok:"; the first failed check raises, so the
exit status is nonzero. The last line, "spid: N", is the session's @@SPID, which the
Rust test compares with the session recorded in statements.log.
"""

import sys

import pymssql

EXPECTED_DATABASES = {"master", "msdb", "mgc", "mgccomp"}


def connect(host, port, password, autocommit):
    # pymssql 2.2.2 knows no tds_version "7.4"; the caller sets TDSVER=7.4 instead.
    return pymssql.connect(
        server=host,
        port=port,
        user="pcdr",
        password=password,
        database="master",
        autocommit=autocommit,
        login_timeout=10,
        timeout=20,
    )


def first_number(error):
    """pymssql's exceptions carry (number, message) of the first server error."""
    return error.args[0] if error.args else None


def check_databases(conn):
    cur = conn.cursor()
    cur.execute("SELECT name, state_desc FROM sys.databases")
    rows = cur.fetchall()
    names = {name for name, _ in rows}
    missing = EXPECTED_DATABASES - names
    assert not missing, f"sys.databases lacks {sorted(missing)}: {rows}"
    assert all(isinstance(state, str) and state for _, state in rows), rows
    listed = ", ".join(f"{name}={state}" for name, state in rows)
    print(f"ok: autocommit SELECT name, state_desc FROM sys.databases -> {listed}")
    return dict(rows)


def check_spid(conn):
    cur = conn.cursor()
    cur.execute("select @@spid")
    (spid,) = cur.fetchone()
    assert isinstance(spid, int) and spid > 0, spid
    print(f"ok: select @@spid -> {spid}")
    return spid


def check_too_recent(conn, trn):
    cur = conn.cursor()
    cur.execute(f"RESTORE HEADERONLY FROM DISK = '{trn}'")
    columns = [c[0] for c in cur.description]
    header = dict(zip(columns, cur.fetchone()))
    cur.execute(
        "SELECT redo_start_lsn FROM sys.master_files "
        "WHERE database_id = DB_ID('mgc') AND type_desc = 'ROWS'"
    )
    (redo,) = cur.fetchone()
    first = header["FirstLSN"]
    assert redo is not None and first > redo, (first, redo)
    print(f"ok: {trn} begins at FirstLSN {first}, after mgc's redo_start_lsn {redo}")
    try:
        cur.execute(f"RESTORE LOG mgc FROM DISK = '{trn}' WITH NORECOVERY")
    except pymssql.OperationalError as error:
        number = first_number(error)
        assert number == 4305, f"expected 4305 first, got {error!r}"
        print(f"ok: RESTORE LOG of the too recent backup -> OperationalError {number}")
    else:
        raise AssertionError("RESTORE LOG of a too recent log backup succeeded")
    cur.execute("SELECT state_desc FROM sys.databases WHERE name = 'mgc'")
    (state,) = cur.fetchone()
    cur.execute(
        "SELECT redo_start_lsn FROM sys.master_files "
        "WHERE database_id = DB_ID('mgc') AND type_desc = 'ROWS'"
    )
    (after,) = cur.fetchone()
    assert (state, after) == ("RESTORING", redo), (state, after, redo)
    print(f"ok: the failed restore changed nothing: mgc RESTORING at {after}")


def check_restore_in_implicit_transaction(host, port, password, trn):
    """autocommit=False: pymssql sends BEGIN TRAN, so RESTORE fails with 3021."""
    conn = connect(host, port, password, autocommit=False)
    try:
        cur = conn.cursor()
        cur.execute("SELECT @@TRANCOUNT")
        (trancount,) = cur.fetchone()
        assert trancount == 1, f"@@TRANCOUNT {trancount} in pymssql's implicit transaction"
        try:
            cur.execute(f"RESTORE LOG mgc FROM DISK = '{trn}' WITH NORECOVERY")
        except pymssql.OperationalError as error:
            number = first_number(error)
            assert number == 3021, f"expected 3021 first, got {error!r}"
            print(f"ok: autocommit off, @@TRANCOUNT 1, RESTORE LOG -> OperationalError {number}")
        else:
            raise AssertionError("RESTORE LOG inside a transaction succeeded")
        conn.rollback()
        conn.commit()
        print("ok: autocommit off, rollback and commit accepted")
        # pymssql 2.2.2 turns autocommit on with `ROLLBACK TRAN` (no `IF @@TRANCOUNT`).
        conn.autocommit(True)
        cur = conn.cursor()
        cur.execute("SELECT @@TRANCOUNT")
        (trancount,) = cur.fetchone()
        assert trancount == 0, f"@@TRANCOUNT {trancount} after autocommit(True)"
        print("ok: autocommit(True) ends pymssql's transaction: @@TRANCOUNT 0")
    finally:
        conn.close()


def check_wrong_password(host, port):
    try:
        connect(host, port, "not-the-password", autocommit=True)
    except pymssql.OperationalError as error:
        # A failed connect carries ((number, message),).
        (number, message) = error.args[0]
        assert number == 18456 and b"Login failed for user 'pcdr'" in message, error
        print(f"ok: wrong password -> OperationalError {number} (login failed)")
    else:
        raise AssertionError("a wrong password logged in")


def main():
    host, port, password, trn = sys.argv[1:5]
    conn = connect(host, port, password, autocommit=True)
    try:
        check_databases(conn)
        spid = check_spid(conn)
        check_too_recent(conn, trn)
    finally:
        conn.close()
    check_restore_in_implicit_transaction(host, port, password, trn)
    check_wrong_password(host, port)
    print(f"spid: {spid}")


if __name__ == "__main__":
    main()
