-- Tickets an agent writes are internal unless shared (issue 20, item 7): only tickets the shopper
-- opened (the widget) or ones an agent shares appear in the widget.
ALTER TABLE tickets ADD COLUMN shared_with_customer INTEGER NOT NULL DEFAULT 0;
UPDATE tickets SET shared_with_customer = 1 WHERE channel = 'widget';
