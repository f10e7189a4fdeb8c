-- The shop's time zone (days in reports and times in the console are the shop's days) and the
-- web origins allowed to embed its widget (kefu_core::model::ShopSettings; JSON list, '[]' = any).
ALTER TABLE shops ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Asia/Shanghai';
ALTER TABLE shops ADD COLUMN widget_origins TEXT NOT NULL DEFAULT '[]';
