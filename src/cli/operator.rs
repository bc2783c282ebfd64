//! `poort operator-token`: a new bearer token for the operator API and the SHA-256 to list in
//! `[operator] api_token_sha256`. The token is printed once, for the operator's system; only the
//! hash goes in the config.

use crate::grants::token_hash;

/// A new token (32 random bytes, hex) and its hash.
pub fn new_token() -> (String, String) {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let hash = token_hash(&token);
    (token, hash)
}

/// Prints a new token and the line for the config.
pub fn run() {
    let (token, hash) = new_token();
    println!("token (give it to the operator's system; it is not kept anywhere):\n  {token}");
    println!("add its hash to the config:\n  [operator]\n  api_token_sha256 = [\"{hash}\"]");
}
