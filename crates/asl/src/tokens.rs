//! Task tokens for the `.waitForTaskToken` pattern: the interpreter issues
//! a token, the task hands it to outside work, and `SendTaskSuccess`,
//! `SendTaskFailure` or `SendTaskHeartbeat` route back to the waiting state
//! through this registry.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::task::TaskError;

/// A callback for a waiting task.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenMessage {
    /// `SendTaskSuccess` with the task's output.
    Success(Value),
    /// `SendTaskFailure`.
    Failure(TaskError),
    /// `SendTaskHeartbeat`.
    Heartbeat,
}

/// Why a callback could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No task is waiting on this token (never issued, already answered,
    /// or timed out). AWS answers `TaskDoesNotExist` / `TaskTimedOut`.
    #[error("TaskDoesNotExist: no task is waiting for token '{0}'")]
    TaskDoesNotExist(String),
}

/// A token and the receiving end the waiting task listens on.
pub struct IssuedToken {
    /// The token text.
    pub token: String,
    /// Where callbacks arrive.
    pub receiver: mpsc::UnboundedReceiver<TokenMessage>,
}

/// The tokens of every waiting task.
#[derive(Debug, Default)]
pub struct TaskTokens {
    waiting: Mutex<HashMap<String, mpsc::UnboundedSender<TokenMessage>>>,
}

impl TaskTokens {
    fn waiting(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<TokenMessage>>> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Issues a fresh token.
    pub fn issue(&self) -> IssuedToken {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let (sender, receiver) = mpsc::unbounded_channel();
        self.waiting().insert(token.clone(), sender);
        IssuedToken { token, receiver }
    }

    /// Makes `token` a waiting task's token, as if a Task state had issued
    /// it: for a test or a local tool that stands in for the waiting state
    /// (so a worker's `SendTaskSuccess` with a sample token is accepted and
    /// can be read back from the receiver). `None` when something already
    /// waits on that token: a running execution's task is never taken over.
    pub fn wait_on(&self, token: &str) -> Option<IssuedToken> {
        let mut waiting = self.waiting();
        if waiting.contains_key(token) {
            return None;
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        waiting.insert(token.to_owned(), sender);
        Some(IssuedToken {
            token: token.to_owned(),
            receiver,
        })
    }

    /// Forgets a token once its task has ended.
    pub fn retire(&self, token: &str) {
        self.waiting().remove(token);
    }

    /// Delivers a callback. Success and failure retire the token.
    pub fn deliver(&self, token: &str, message: TokenMessage) -> Result<(), TokenError> {
        let mut waiting = self.waiting();
        let final_message = !matches!(message, TokenMessage::Heartbeat);
        let sender = if final_message {
            waiting.remove(token)
        } else {
            waiting.get(token).cloned()
        };
        let sender = sender.ok_or_else(|| TokenError::TaskDoesNotExist(token.to_owned()))?;
        sender
            .send(message)
            .map_err(|_| TokenError::TaskDoesNotExist(token.to_owned()))
    }

    /// How many tasks are waiting.
    pub fn waiting_count(&self) -> usize {
        self.waiting().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_waited_on_from_outside_takes_one_final_callback() {
        let tokens = TaskTokens::default();
        let mut wait = tokens.wait_on("sample-token/+=").unwrap();
        assert!(
            tokens.wait_on("sample-token/+=").is_none(),
            "a token already waited on is not taken over"
        );
        tokens
            .deliver("sample-token/+=", TokenMessage::Heartbeat)
            .unwrap();
        tokens
            .deliver("sample-token/+=", TokenMessage::Success(Value::from(7)))
            .unwrap();
        assert_eq!(wait.receiver.try_recv(), Ok(TokenMessage::Heartbeat));
        assert_eq!(
            wait.receiver.try_recv(),
            Ok(TokenMessage::Success(Value::from(7)))
        );
        assert_eq!(
            tokens.deliver("sample-token/+=", TokenMessage::Heartbeat),
            Err(TokenError::TaskDoesNotExist("sample-token/+=".to_owned()))
        );
    }
}
