-- Full-text search: the indexer follows conversations, customers and orders by (updated_at, id).
-- Messages are followed by their primary key and need nothing.
CREATE INDEX conversations_updated ON conversations (updated_at, id);
CREATE INDEX customers_updated ON customers (updated_at, id);
CREATE INDEX orders_updated ON orders (updated_at, id);
