//! A realistic batch: payments in USD, EUR, JPY and KWD with approvals and declines, full and
//! partial captures, voids, partial refunds and idempotent retries, spread over the three
//! surfaces. Every answer is checked as it comes; the result says what the topics must hold.

use std::collections::BTreeMap;

use crate::client::{Call, CallError, Client, PaymentView, Surface};

/// What happened to one payment after authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    FullCapture,
    PartialCaptureAndRefund,
    Void,
    CaptureAndTwoRefunds,
    StayAuthorized,
}

/// What a workload did.
#[derive(Debug, Default, Clone)]
pub struct WorkloadReport {
    /// Calls per surface.
    pub calls: BTreeMap<&'static str, u64>,
    /// Payments per final status.
    pub statuses: BTreeMap<String, u64>,
    /// Payments per currency.
    pub currencies: BTreeMap<String, u64>,
    /// Idempotent retries sent (on another surface) and answered as replays of the same payment.
    pub replays_verified: u64,
    /// Events the writes must have produced, per payment id (its final version).
    pub expected_events: BTreeMap<String, i64>,
}

impl WorkloadReport {
    /// Total events expected on the topic.
    pub fn total_events(&self) -> i64 {
        self.expected_events.values().sum()
    }
}

fn amount_for(currency: &str, i: usize) -> i64 {
    let i = i64::try_from(i).unwrap_or(0);
    match currency {
        "JPY" => 500 + i * 13,
        "KWD" => 12_345 + i * 7,
        _ => 1_000 + i * 11,
    }
}

/// Runs `payments` payment lifecycles; `tag` keeps idempotency keys unique per run.
///
/// # Errors
/// The first unexpected answer, described.
pub async fn run(
    client: &Client,
    payments: usize,
    tag: &str,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<WorkloadReport> {
    const CURRENCIES: [&str; 4] = ["USD", "EUR", "JPY", "KWD"];
    let mut report = WorkloadReport::default();
    for i in 0..payments {
        let surface = Surface::ALL[i % 3];
        let currency = CURRENCIES[i % 4];
        let amount = amount_for(currency, i);
        let method = match i % 10 {
            8 => "pm_card_declined",
            9 => "pm_card_insufficient_funds",
            n if n % 2 == 0 => "pm_card_visa",
            _ => "pm_card_mastercard",
        };
        let plan = [
            Plan::FullCapture,
            Plan::PartialCaptureAndRefund,
            Plan::Void,
            Plan::CaptureAndTwoRefunds,
            Plan::StayAuthorized,
        ][i % 5];
        let mut step = 0;
        let mut call = |call: Call, surface: Surface| {
            step += 1;
            let key = format!("{tag}-{i}-{step}");
            *report.calls.entry(surface.name()).or_default() += 1;
            async move { (client.call(surface, &call, Some(&key)).await, key, call) }
        };
        let authorize = Call::Authorize {
            amount_minor: amount,
            currency: currency.to_owned(),
            payment_method: method.to_owned(),
        };
        let (result, key, authorize) = call(authorize, surface).await;
        let payment = expect_ok(result, "authorize", i)?;
        *report.currencies.entry(currency.to_owned()).or_default() += 1;
        if i % 7 == 0 {
            // An idempotent retry, sent over the next surface: same payment, marked replayed.
            let retry_surface = Surface::ALL[(i + 1) % 3];
            *report.calls.entry(retry_surface.name()).or_default() += 1;
            let retried = expect_ok(
                client.call(retry_surface, &authorize, Some(&key)).await,
                "retry",
                i,
            )?;
            anyhow::ensure!(
                retried.replayed && retried.id == payment.id,
                "payment {i}: retry was not a replay: {retried:?}"
            );
            report.replays_verified += 1;
        }
        let id = payment.id.clone();
        let last = if payment.status == "declined" {
            payment
        } else {
            let steps: Vec<Call> = match plan {
                Plan::FullCapture => vec![Call::Capture {
                    id: id.clone(),
                    amount_minor: None,
                }],
                Plan::PartialCaptureAndRefund => vec![
                    Call::Capture {
                        id: id.clone(),
                        amount_minor: Some(amount / 2),
                    },
                    Call::Refund {
                        id: id.clone(),
                        amount_minor: Some(amount / 4),
                    },
                ],
                Plan::Void => vec![Call::Void { id: id.clone() }],
                Plan::CaptureAndTwoRefunds => vec![
                    Call::Capture {
                        id: id.clone(),
                        amount_minor: None,
                    },
                    Call::Refund {
                        id: id.clone(),
                        amount_minor: Some(amount / 3),
                    },
                    Call::Refund {
                        id: id.clone(),
                        amount_minor: None,
                    },
                ],
                Plan::StayAuthorized => Vec::new(),
            };
            let mut last = payment;
            for (n, write) in steps.iter().enumerate() {
                let key = format!("{tag}-{i}-{}", n + 1);
                last = expect_ok(
                    send(
                        client,
                        &mut report,
                        Surface::ALL[(i + n + 1) % 3],
                        write,
                        &key,
                    )
                    .await,
                    "write",
                    i,
                )?;
            }
            last
        };
        *report.statuses.entry(last.status.clone()).or_default() += 1;
        report.expected_events.insert(last.id.clone(), last.version);
        progress(i + 1);
    }
    Ok(report)
}

async fn send(
    client: &Client,
    report: &mut WorkloadReport,
    surface: Surface,
    call: &Call,
    key: &str,
) -> Result<PaymentView, CallError> {
    *report.calls.entry(surface.name()).or_default() += 1;
    client.call(surface, call, Some(key)).await
}

fn expect_ok(
    result: Result<PaymentView, CallError>,
    what: &str,
    i: usize,
) -> anyhow::Result<PaymentView> {
    result.map_err(|error| anyhow::anyhow!("payment {i}: {what} failed: {error}"))
}
