//! `gen-orders`: a deterministic CSV of orders in the format of `kefu import orders`
//! (docs/API.md, "CSV import"), for the import benchmark. One to three lines per order (1.6 on
//! average), buyers drawn from a fixed population of customers, realistic yuan amounts.

use anyhow::{Context, Result};
use std::io::{BufWriter, Write};
use std::path::Path;

/// xorshift64*: fast, deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
];
const GIVEN: &[&str] = &[
    "芳", "伟", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "丽", "强", "婷", "鹏", "雪",
];
const PRODUCTS: &[(&str, &str, u64)] = &[
    ("BEE-EAR-PRO", "小蜜蜂降噪蓝牙耳机 Pro", 29900),
    ("BEE-EAR-LITE", "小蜜蜂半入耳蓝牙耳机", 12900),
    ("BEE-PB-10K", "10000mAh 超薄充电宝", 9900),
    ("BEE-PB-20K", "20000mAh 快充充电宝", 15900),
    ("BEE-CHG-65W", "65W 氮化镓充电器", 13900),
    ("BEE-CHG-20W", "20W PD 快充头", 4900),
    ("BEE-CAB-C1", "Type-C 快充数据线 1m", 1990),
    ("BEE-CAB-L1", "苹果 Lightning 数据线", 2990),
    ("BEE-CASE-15", "iPhone 15 磁吸手机壳", 3900),
    ("BEE-CASE-M14", "小米 14 防摔手机壳", 2900),
    ("BEE-HOLDER", "车载磁吸手机支架", 5900),
    ("BEE-WATCH-S", "小蜜蜂运动手环", 19900),
];
const CARRIERS: &[(&str, &str)] = &[("顺丰", "SF"), ("中通", "ZT"), ("圆通", "YT")];

/// 2025-01-01T00:00:00+08:00 in seconds; orders spread over the two years after it.
const START_SECS: u64 = 1_735_660_800;
const SPAN_SECS: u64 = 2 * 365 * 24 * 3600;

fn yuan(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC+8 for unix seconds (civil-from-days, no time crate needed).
fn local_time(secs: u64) -> String {
    let t = secs + 8 * 3600;
    let (days, rem) = (t / 86_400, t % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn generate(
    path: &Path,
    orders: u64,
    customers: u64,
    seed: u64,
    prefix: &str,
) -> Result<(u64, u64)> {
    let file = std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    writeln!(
        w,
        "order_no,placed_at,buyer_external_id,buyer_name,buyer_phone,sku,item_name,quantity,unit_price,discount,shipping_fee,payment_status,paid_at,carrier,tracking_no"
    )?;
    let mut rng = Rng(seed.max(1));
    let mut rows = 0u64;
    let customers = customers.max(1);
    for n in 0..orders {
        // Every customer gets at least one order when orders ≥ customers; the rest are random.
        let c = if n < customers {
            n
        } else {
            rng.below(customers)
        };
        let name = format!(
            "{}{}",
            SURNAMES[(c % SURNAMES.len() as u64) as usize],
            GIVEN[(c / SURNAMES.len() as u64 % GIVEN.len() as u64) as usize]
        );
        let phone = format!("1{}{:09}", 3 + c % 7, c);
        let placed = START_SECS + rng.below(SPAN_SECS);
        let paid = rng.below(10) < 9;
        let lines = 1 + rng.below(10).min(7) / 4; // 1: 40 %, 2: 40 %, 3: 20 %
        let discount = if rng.below(4) == 0 { 1000 } else { 0 };
        let shipping = if rng.below(3) == 0 { 800 } else { 0 };
        let shipped = paid && rng.below(10) < 8;
        let (carrier, tracking_prefix) = CARRIERS[rng.below(3) as usize];
        for l in 0..lines {
            let (sku, pname, price) = PRODUCTS[rng.below(PRODUCTS.len() as u64) as usize];
            let qty = 1 + rng.below(10) / 8;
            if l == 0 {
                writeln!(
                    w,
                    "{prefix}{:010},{},u{c:07},{name},{phone},{sku},{pname},{qty},{},{},{},{},{},{},{}",
                    n + 1,
                    local_time(placed),
                    yuan(price),
                    yuan(discount),
                    yuan(shipping),
                    if paid { "paid" } else { "unpaid" },
                    if paid {
                        local_time(placed + 60 + rng.below(3600))
                    } else {
                        String::new()
                    },
                    if shipped { carrier } else { "" },
                    if shipped {
                        format!("{tracking_prefix}{:012}", n + 1)
                    } else {
                        String::new()
                    },
                )?;
            } else {
                writeln!(
                    w,
                    "{prefix}{:010},,,,,{sku},{pname},{qty},{},,,,,,",
                    n + 1,
                    yuan(price)
                )?;
            }
            rows += 1;
        }
    }
    w.flush()?;
    Ok((orders, rows))
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_time_is_utc_plus_8() {
        // 2025-01-01T00:00:00+08:00
        assert_eq!(super::local_time(super::START_SECS), "2025-01-01 00:00:00");
        assert_eq!(super::local_time(1_700_000_000), "2023-11-15 06:13:20");
    }
}
