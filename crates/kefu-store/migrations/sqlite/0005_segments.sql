-- Segmentation (kefu-core/src/segments.rs, docs/SEGMENTS.md): one row of metrics and segments per
-- customer, and each shop's rules with the thresholds its customers were last scored against.

CREATE TABLE customer_metrics (
    -- A customer removed (e.g. merged into another) takes its row along.
    customer_id INTEGER PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    paid_orders INTEGER NOT NULL,
    revenue_cents INTEGER NOT NULL,
    first_order_at INTEGER,
    last_order_at INTEGER,
    median_interval_ms INTEGER,
    refunds_count INTEGER NOT NULL DEFAULT 0,
    -- hooks filled once tickets (complaints) and satisfaction ratings exist
    complaints_count INTEGER NOT NULL DEFAULT 0,
    low_ratings_count INTEGER NOT NULL DEFAULT 0,
    -- 1-5, 0 without paid orders
    r_score INTEGER NOT NULL,
    f_score INTEGER NOT NULL,
    m_score INTEGER NOT NULL,
    rfm_segment TEXT,
    tier TEXT NOT NULL,
    high_volume INTEGER NOT NULL DEFAULT 0,
    long_standing INTEGER NOT NULL DEFAULT 0,
    key_customer INTEGER NOT NULL DEFAULT 0,
    demanding INTEGER NOT NULL DEFAULT 0,
    churn_level TEXT,
    churn_days_since_last INTEGER,
    churn_usual_interval_days INTEGER,
    churn_days_overdue INTEGER,
    computed_at INTEGER NOT NULL
);
CREATE INDEX customer_metrics_revenue ON customer_metrics (shop_id, revenue_cents DESC);
CREATE INDEX customer_metrics_tier ON customer_metrics (shop_id, tier, revenue_cents DESC);
CREATE INDEX customer_metrics_rfm ON customer_metrics (shop_id, rfm_segment, revenue_cents DESC);
CREATE INDEX customer_metrics_churn ON customer_metrics (shop_id, churn_level, churn_days_overdue DESC)
    WHERE churn_level IS NOT NULL;

CREATE TABLE segment_rules (
    shop_id INTEGER PRIMARY KEY REFERENCES shops(id),
    -- kefu_core::segments::SegmentRules as JSON
    rules TEXT NOT NULL,
    -- kefu_core::segments::Thresholds as JSON; NULL until a full recompute found buyers
    thresholds TEXT,
    updated_at INTEGER NOT NULL
);
