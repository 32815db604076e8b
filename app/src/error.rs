//! The error every server function returns, and its Traditional Chinese wording.
//!
//! The server maps its own failures into [`ApiError`] once, at its edge; the UI maps
//! [`ApiError`] to text here, once. Internal details never travel: `Internal` carries none.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum ApiError {
    /// Wrong account or password, or an unknown account: deliberately one case.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed attempts; try again after the given number of seconds.
    #[error("throttled, retry after {retry_after_secs}s")]
    Throttled { retry_after_secs: u64 },
    #[error("not signed in")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("server busy")]
    Busy,
    #[error("service unavailable")]
    Unavailable,
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("internal error")]
    Internal,
    /// The request never reached, or never came back from, the server function.
    #[error("transport: {0}")]
    Transport(String),
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiError::Transport(value.to_string())
    }
}

impl ApiError {
    /// What the user reads.
    pub fn message(&self) -> String {
        match self {
            ApiError::InvalidCredentials => "帳號或密碼錯誤".into(),
            ApiError::Throttled { retry_after_secs } => {
                let wait = if *retry_after_secs >= 120 {
                    format!("{} 分鐘", retry_after_secs.div_ceil(60))
                } else {
                    format!("{} 秒", retry_after_secs.max(&1))
                };
                format!("登入嘗試次數過多，請於 {wait}後再試；或改用憑證登入。")
            }
            ApiError::Unauthenticated => "請先登入".into(),
            ApiError::Forbidden => "您沒有使用此功能的權限".into(),
            ApiError::NotFound => "找不到您要的資料".into(),
            ApiError::Busy => "系統忙碌中，請稍後再試".into(),
            ApiError::Unavailable => "系統暫時無法提供服務，請稍後再試".into(),
            ApiError::InvalidInput(_) => "輸入的資料格式不正確".into(),
            ApiError::Internal => "系統發生錯誤，請稍後再試".into(),
            ApiError::Transport(_) => "無法連線至伺服器，請檢查網路後再試".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_message_rounds_up_minutes() {
        let m = ApiError::Throttled {
            retry_after_secs: 601,
        }
        .message();
        assert!(m.contains("11 分鐘"), "{m}");
        let s = ApiError::Throttled {
            retry_after_secs: 0,
        }
        .message();
        assert!(s.contains("1 秒"), "{s}");
    }

    #[test]
    fn json_round_trip() {
        for e in [
            ApiError::InvalidCredentials,
            ApiError::Throttled {
                retry_after_secs: 30,
            },
            ApiError::Internal,
        ] {
            let bytes = e.ser();
            assert_eq!(ApiError::de(bytes), e);
        }
    }
}
