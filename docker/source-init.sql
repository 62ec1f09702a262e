-- A small sample for trying pgferry with docker compose: two databases on the source.
CREATE DATABASE shop;
CREATE DATABASE inventory;
\connect shop
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers(id), amount numeric(12,2));
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 100) g;
INSERT INTO orders (customer_id, amount) SELECT 1 + g % 100, g % 1000 FROM generate_series(1, 10000) g;
\connect inventory
CREATE TABLE items (sku text PRIMARY KEY, qty int NOT NULL);
INSERT INTO items SELECT 'sku-' || g, g % 50 FROM generate_series(1, 1000) g;
