-- The widget's pre-chat form per shop (kefu_core::model::PrechatForm as JSON; '{}' = off).
ALTER TABLE shops ADD COLUMN prechat TEXT NOT NULL DEFAULT '{}';
