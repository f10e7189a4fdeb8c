-- Segmentation (kefu-core/src/segments.rs, docs/SEGMENTS.md): one row of metrics and segments per
-- customer, and each shop's rules with the thresholds its customers were last scored against.

CREATE TABLE customer_metrics (
    -- A customer removed (e.g. merged into another) takes its row along.
    customer_id BIGINT PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    paid_orders BIGINT NOT NULL,
    revenue_cents BIGINT NOT NULL,
    first_order_at BIGINT,
    last_order_at BIGINT,
    median_interval_ms BIGINT,
    refunds_count BIGINT NOT NULL DEFAULT 0,
    -- hooks filled once tickets (complaints) and satisfaction ratings exist
    complaints_count BIGINT NOT NULL DEFAULT 0,
    low_ratings_count BIGINT NOT NULL DEFAULT 0,
    -- 1-5, 0 without paid orders
    r_score BIGINT NOT NULL,
    f_score BIGINT NOT NULL,
    m_score BIGINT NOT NULL,
    rfm_segment TEXT,
    tier TEXT NOT NULL,
    high_volume BOOLEAN NOT NULL DEFAULT FALSE,
    long_standing BOOLEAN NOT NULL DEFAULT FALSE,
    key_customer BOOLEAN NOT NULL DEFAULT FALSE,
    demanding BOOLEAN NOT NULL DEFAULT FALSE,
    churn_level TEXT,
    churn_days_since_last BIGINT,
    churn_usual_interval_days BIGINT,
    churn_days_overdue BIGINT,
    computed_at BIGINT NOT NULL
);
CREATE INDEX customer_metrics_revenue ON customer_metrics (shop_id, revenue_cents DESC);
CREATE INDEX customer_metrics_tier ON customer_metrics (shop_id, tier, revenue_cents DESC);
CREATE INDEX customer_metrics_rfm ON customer_metrics (shop_id, rfm_segment, revenue_cents DESC);
CREATE INDEX customer_metrics_churn ON customer_metrics (shop_id, churn_level, churn_days_overdue DESC)
    WHERE churn_level IS NOT NULL;

CREATE TABLE segment_rules (
    shop_id BIGINT PRIMARY KEY REFERENCES shops(id),
    -- kefu_core::segments::SegmentRules as JSON
    rules TEXT NOT NULL,
    -- kefu_core::segments::Thresholds as JSON; NULL until a full recompute found buyers
    thresholds TEXT,
    updated_at BIGINT NOT NULL
);
