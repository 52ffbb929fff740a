# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a whole PostgreSQL server holds, as one comparable dict: roles, databases, owners, grants, settings, data.

Shared by the hook-script tests (Debian PostgreSQL) and the lab tests (PostgreSQL in a pod). ``run(sql, database)``
runs one query with psql -At and returns its output. Password hashes are compared through their md5, so no hash is
ever printed by a failing assertion.
"""

import json

ROLES_SQL = """
SELECT coalesce(json_object_agg(r.rolname, json_build_object(
  'super', r.rolsuper, 'login', r.rolcanlogin, 'createdb', r.rolcreatedb, 'createrole', r.rolcreaterole,
  'inherit', r.rolinherit, 'connlimit', r.rolconnlimit, 'password_md5', md5(coalesce(r.rolpassword, '')),
  'member_of', (SELECT coalesce(json_agg(g.rolname ORDER BY g.rolname), '[]') FROM pg_catalog.pg_auth_members m
                JOIN pg_catalog.pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid),
  'settings', (SELECT coalesce(json_agg(s ORDER BY s), '[]') FROM pg_catalog.pg_db_role_setting d, unnest(d.setconfig) s
               WHERE d.setrole = r.oid AND d.setdatabase = 0))), '{}')
FROM pg_catalog.pg_authid r WHERE r.rolname !~ '^pg_' AND NOT r.rolsuper
"""

DATABASES_SQL = """
SELECT coalesce(json_object_agg(d.datname, json_build_object(
  'owner', pg_catalog.pg_get_userbyid(d.datdba), 'encoding', pg_catalog.pg_encoding_to_char(d.encoding),
  'acl', (SELECT coalesce(json_agg(a::text ORDER BY a::text), '[]') FROM unnest(d.datacl) a),
  'settings', (SELECT coalesce(json_agg(s ORDER BY s), '[]') FROM pg_catalog.pg_db_role_setting x, unnest(x.setconfig) s
               WHERE x.setdatabase = d.oid))), '{}')
FROM pg_catalog.pg_database d WHERE d.datallowconn AND NOT d.datistemplate
"""

CONTENTS_SQL = """
SELECT json_build_object(
 'extensions', (SELECT coalesce(json_agg(extname ORDER BY extname), '[]') FROM pg_catalog.pg_extension),
 'schemas', (SELECT coalesce(json_object_agg(nspname, json_build_object('owner', pg_catalog.pg_get_userbyid(nspowner),
             'acl', (SELECT coalesce(json_agg(a::text ORDER BY a::text), '[]') FROM unnest(nspacl) a))), '{}')
             FROM pg_catalog.pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'),
 'default_acl', (SELECT coalesce(json_agg(json_build_object('role', pg_catalog.pg_get_userbyid(defaclrole), 'type', defaclobjtype,
                 'acl', (SELECT json_agg(a::text ORDER BY a::text) FROM unnest(defaclacl) a))
                 ORDER BY pg_catalog.pg_get_userbyid(defaclrole), defaclobjtype), '[]')
                 FROM pg_catalog.pg_default_acl),
 'tables', (SELECT coalesce(json_object_agg(format('%I.%I', n.nspname, c.relname), json_build_object(
             'owner', pg_catalog.pg_get_userbyid(c.relowner),
             'acl', (SELECT coalesce(json_agg(a::text ORDER BY a::text), '[]') FROM unnest(c.relacl) a),
             'rows', (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text,
             'md5', (xpath('/row/m/text()', query_to_xml(format('SELECT md5(coalesce(string_agg(t::text, E''\\n'' ORDER BY t::text), '''')) AS m FROM %I.%I t',
                     n.nspname, c.relname), false, true, '')))[1]::text)), '{}')
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'))
"""


def server_state(run, databases=None):
    """Roles (all but the superusers, whose passwords belong to each server), databases, and each database's contents."""
    state = {"roles": json.loads(run(ROLES_SQL, "postgres")), "databases": json.loads(run(DATABASES_SQL, "postgres"))}
    for name in databases or sorted(state["databases"]):
        state["databases"][name]["contents"] = json.loads(run(CONTENTS_SQL, name))
    return state


def differences(before, after, path=""):
    """Where two states differ, as 'path: before != after' lines, so a failing assertion says what was lost."""
    if isinstance(before, dict) and isinstance(after, dict):
        lines = []
        for key in sorted(set(before) | set(after)):
            lines += differences(before.get(key), after.get(key), "%s/%s" % (path, key))
        return lines
    return [] if before == after else ["%s: %r != %r" % (path, before, after)]


def without_maintain(state):
    """The state with PostgreSQL 17's MAINTAIN privilege ('m') taken out of table ACLs, to compare with a 15 or 16 server.

    17 added MAINTAIN, and a table owner holds it, so a dump from 15 restored on 17 shows 'arwdDxtm' where 15 showed
    'arwdDxt': the same grants, in 17's words.
    """
    state = json.loads(json.dumps(state))
    for database in state["databases"].values():
        for table in database.get("contents", {}).get("tables", {}).values():
            table["acl"] = ["%s=%s/%s" % (a.split("=", 1)[0], a.split("=", 1)[1].split("/")[0].replace("m", ""), a.split("/", 1)[1])
                            for a in table["acl"]]
    return state


# An application as users run it: roles of their own, a second database with its own settings, an extension,
# a schema owned by the application, default privileges and grants to a group role.
APP_GLOBALS_SQL = """
CREATE ROLE shop_readers NOLOGIN;
CREATE ROLE shop_app LOGIN PASSWORD 'app-Secret-1' CONNECTION LIMIT 20;
CREATE ROLE shop_report LOGIN PASSWORD 'report-Secret-2' IN ROLE shop_readers;
ALTER ROLE shop_report SET statement_timeout = '15s';
CREATE DATABASE shop OWNER shop_app;
ALTER DATABASE shop SET search_path = app, public;
ALTER DATABASE shop SET statement_timeout = '30s';
REVOKE CONNECT ON DATABASE shop FROM PUBLIC;
GRANT CONNECT ON DATABASE shop TO shop_readers;
"""

APP_SHOP_SQL = """
CREATE EXTENSION pgcrypto;
CREATE SCHEMA app AUTHORIZATION shop_app;
SET ROLE shop_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO shop_readers;
CREATE TABLE app.customers (id int PRIMARY KEY, email text NOT NULL, secret bytea);
INSERT INTO app.customers SELECT g, 'c' || g || '@example.org', digest('s' || g, 'sha256') FROM generate_series(1, 300) g;
CREATE TABLE app.orders (id bigserial PRIMARY KEY, customer int REFERENCES app.customers, total numeric(10, 2), at timestamptz DEFAULT '2026-01-01');
INSERT INTO app.orders (customer, total) SELECT 1 + g % 300, g * 1.25 FROM generate_series(1, 1000) g;
GRANT USAGE ON SCHEMA app TO shop_readers;
RESET ROLE;
"""

APP_POSTGRES_SQL = """
CREATE TABLE public.orders (id int PRIMARY KEY, note text);
ALTER TABLE public.orders OWNER TO shop_app;
GRANT SELECT ON public.orders TO PUBLIC;
INSERT INTO public.orders SELECT g, 'n' || g FROM generate_series(1, 500) g;
"""


def seed_application(run):
    """Create the application above through ``run(sql, database)``."""
    run(APP_GLOBALS_SQL, "postgres")
    run(APP_SHOP_SQL, "shop")
    run(APP_POSTGRES_SQL, "postgres")
