//! AWS SDK errors → [`StoreError`] kinds (retryable or not).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::{ErrorKind, StoreError};

/// Maps any SDK operation error to a store error: connection problems are `Unavailable`,
/// timeouts `Timeout`, throughput errors `Throttled` (all retryable); failed conditions
/// `ConditionFailed`; missing tables or streams `NotFound`; validation errors `Invalid`.
pub fn from_sdk<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let kind = match &err {
        SdkError::TimeoutError(_) => ErrorKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => ErrorKind::Timeout,
        SdkError::DispatchFailure(_) => ErrorKind::Unavailable,
        SdkError::ConstructionFailure(_) => ErrorKind::Invalid,
        SdkError::ResponseError(_) => ErrorKind::Unavailable,
        SdkError::ServiceError(service) => kind_of_code(service.err().code().unwrap_or_default()),
        _ => ErrorKind::Internal,
    };
    let detail = match &err {
        SdkError::ServiceError(service) => format!(
            "{}: {}",
            service.err().code().unwrap_or("unknown"),
            service.err().message().unwrap_or("")
        ),
        other => format!("{other}"),
    };
    StoreError::new(kind, format!("{operation}: {detail}"))
}

/// The kind of a service error code (DynamoDB and Kinesis share most of them).
pub fn kind_of_code(code: &str) -> ErrorKind {
    match code {
        "ConditionalCheckFailedException" => ErrorKind::ConditionFailed,
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "LimitExceededException"
        | "KMSThrottlingException" => ErrorKind::Throttled,
        "ResourceNotFoundException" => ErrorKind::NotFound,
        "ValidationException" | "InvalidArgumentException" | "SerializationException" => {
            ErrorKind::Invalid
        }
        // A competing transaction touched an item: the same call can succeed again.
        "TransactionConflictException"
        | "InternalServerError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "ResourceInUseException" => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds_that_say_whether_to_retry() {
        assert_eq!(
            kind_of_code("ConditionalCheckFailedException"),
            ErrorKind::ConditionFailed
        );
        assert!(kind_of_code("ProvisionedThroughputExceededException").is_retryable());
        assert!(kind_of_code("ThrottlingException").is_retryable());
        assert!(kind_of_code("TransactionConflictException").is_retryable());
        assert!(!kind_of_code("ValidationException").is_retryable());
        assert_eq!(
            kind_of_code("ResourceNotFoundException"),
            ErrorKind::NotFound
        );
        assert_eq!(kind_of_code("SomethingNew"), ErrorKind::Internal);
    }
}
