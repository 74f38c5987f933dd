//! Chopsticks' development RPCs (`dev_*`): set balances and make blocks on demand. Only a
//! Chopsticks node answers these; a real node refuses them with "method not found".

use bt_crypto::wallet::AccountId;
use jsonrpsee::rpc_params;
use serde_json::json;

use crate::client::Subtensor;
use crate::error::SubtensorError;

impl Subtensor {
    /// Sets `account`'s free balance (rao) at once, without a transaction.
    pub async fn dev_set_balance(
        &self,
        account: &AccountId,
        rao: u64,
    ) -> Result<(), SubtensorError> {
        let storage = json!({
            "System": {"Account": [[[account.to_ss58()], {"providers": 1, "data": {"free": rao}}]]}
        });
        let _: serde_json::Value = self
            .rpc()
            .request("dev_setStorage", rpc_params![storage])
            .await?;
        Ok(())
    }

    /// Writes storage by pallet and item names, in chopsticks' JSON form
    /// (`{"SubtensorModule": {"Tempo": [[[netuid], 10]]}}`).
    pub async fn dev_set_storage(&self, storage: serde_json::Value) -> Result<(), SubtensorError> {
        let _: serde_json::Value = self
            .rpc()
            .request("dev_setStorage", rpc_params![storage])
            .await?;
        Ok(())
    }

    /// Makes `count` blocks (with the pending transactions in the first) and returns the new
    /// head's number.
    pub async fn dev_new_blocks(&self, count: u32) -> Result<u64, SubtensorError> {
        let _: serde_json::Value = self
            .rpc()
            .request("dev_newBlock", rpc_params![json!({ "count": count })])
            .await?;
        Ok(self.head().await?.0)
    }
}
