-- The hosting provider's tenant tables (sqlite3 tenants.db < tenants.sql).
CREATE TABLE plans (name TEXT PRIMARY KEY, rate TEXT NOT NULL);
CREATE TABLE tenants (name TEXT PRIMARY KEY, plan TEXT NOT NULL REFERENCES plans(name));
CREATE TABLE domains (domain TEXT PRIMARY KEY, tenant TEXT NOT NULL REFERENCES tenants(name));
INSERT INTO plans VALUES ('starter', '5/min'), ('business', '500/h');
INSERT INTO tenants VALUES ('acme', 'business'), ('globex', 'starter');
INSERT INTO domains VALUES ('acme.example', 'acme'), ('mail.acme.example', 'acme'), ('globex.example', 'globex');
