//! The gRPC surface: `payments.v1.PaymentService` over tonic. Handlers only translate between
//! protobuf messages and [`PaymentService`] calls; errors become a `tonic::Status` with the
//! code of the architecture's table and a `google.rpc.ErrorInfo` detail carrying the stable
//! code (plus a `BadRequest` field violation for field errors).

pub mod status;

use payment_proto::v1 as pb;
use payment_proto::v1::payment_service_server::PaymentService as PaymentServiceRpc;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::idempotency;
use crate::domain::lifecycle::PaymentStatus;
use crate::domain::payment::{self, AuthorizeRequest, Payment};
use crate::error::ApiError;
use crate::rate_limit::RateClass;
use crate::service::{PaymentService, WriteContext, WriteOutcome};
use crate::trace;

/// The tonic implementation of `payments.v1.PaymentService`.
#[derive(Debug, Clone)]
pub struct GrpcApi {
    service: PaymentService,
}

impl GrpcApi {
    /// Wraps the domain service.
    pub fn new(service: PaymentService) -> Self {
        Self { service }
    }

    /// Authenticates the call and spends one unit of the merchant's `class` budget.
    async fn merchant<T>(&self, request: &Request<T>, class: RateClass) -> Result<Uuid, ApiError> {
        let header = request
            .metadata()
            .get("authorization")
            .map(|value| value.as_bytes());
        let client = request
            .extensions()
            .get::<crate::peer::ClientAddr>()
            .copied()
            .unwrap_or(crate::peer::ClientAddr(None));
        self.service.authenticate(header, client, class).await
    }

    async fn write_context<T>(&self, request: &Request<T>) -> Result<WriteContext, ApiError> {
        let merchant_id = self.merchant(request, RateClass::Write).await?;
        let metadata = |name: &str| request.metadata().get(name).map(|value| value.as_bytes());
        WriteContext::from_raw(
            merchant_id,
            metadata(idempotency::HEADER),
            metadata(trace::TRACEPARENT),
        )
    }
}

fn to_proto(payment: Payment) -> pb::Payment {
    let status = match payment.status {
        PaymentStatus::Authorized => pb::PaymentStatus::Authorized,
        PaymentStatus::Declined => pb::PaymentStatus::Declined,
        PaymentStatus::Captured => pb::PaymentStatus::Captured,
        PaymentStatus::Voided => pb::PaymentStatus::Voided,
        PaymentStatus::PartiallyRefunded => pb::PaymentStatus::PartiallyRefunded,
        PaymentStatus::Refunded => pb::PaymentStatus::Refunded,
    };
    pb::Payment {
        id: payment.id.to_string(),
        status: status.into(),
        currency: payment.currency,
        amount_minor: payment.amount_minor,
        authorized_minor: payment.authorized_minor,
        captured_minor: payment.captured_minor,
        refunded_minor: payment.refunded_minor,
        payment_method: payment.payment_method,
        description: payment.description,
        metadata: payment.metadata.into_iter().collect(),
        decline_reason: payment
            .decline_reason
            .map(|reason| reason.as_str().to_owned()),
        version: payment.version,
        created_at: payment::format_time(&payment.created_at),
        updated_at: payment::format_time(&payment.updated_at),
    }
}

fn written(outcome: WriteOutcome) -> Response<pb::Payment> {
    let replayed = outcome.replayed;
    let mut response = Response::new(to_proto(outcome.payment));
    if replayed {
        response.metadata_mut().insert(
            idempotency::REPLAYED_HEADER,
            MetadataValue::from_static("true"),
        );
    }
    response
}

#[tonic::async_trait]
impl PaymentServiceRpc for GrpcApi {
    async fn authorize(
        &self,
        request: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let ctx = self.write_context(&request).await?;
        let body = request.into_inner();
        let body = AuthorizeRequest {
            amount_minor: body.amount_minor,
            currency: body.currency,
            payment_method: body.payment_method,
            description: body.description,
            metadata: body.metadata.into_iter().collect(),
        };
        Ok(written(self.service.authorize(ctx, body).await?))
    }

    async fn capture(
        &self,
        request: Request<pb::CaptureRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let ctx = self.write_context(&request).await?;
        let body = request.into_inner();
        Ok(written(
            self.service
                .capture(ctx, &body.payment_id, body.amount_minor)
                .await?,
        ))
    }

    async fn void(
        &self,
        request: Request<pb::VoidRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let ctx = self.write_context(&request).await?;
        let body = request.into_inner();
        Ok(written(self.service.void(ctx, &body.payment_id).await?))
    }

    async fn refund(
        &self,
        request: Request<pb::RefundRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let ctx = self.write_context(&request).await?;
        let body = request.into_inner();
        Ok(written(
            self.service
                .refund(ctx, &body.payment_id, body.amount_minor)
                .await?,
        ))
    }

    async fn get_payment(
        &self,
        request: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let merchant = self.merchant(&request, RateClass::Read).await?;
        let payment = self
            .service
            .get(merchant, &request.get_ref().payment_id)
            .await?;
        Ok(Response::new(to_proto(payment)))
    }

    async fn list_payments(
        &self,
        request: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        let merchant = self.merchant(&request, RateClass::Read).await?;
        let body = request.into_inner();
        let page = self
            .service
            .list(merchant, i64::from(body.page_size), &body.page_token)
            .await?;
        Ok(Response::new(pb::ListPaymentsResponse {
            payments: page.payments.into_iter().map(to_proto).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        }))
    }
}
