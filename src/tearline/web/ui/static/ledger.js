// Ledger inclusion proofs checked in the browser (RFC 9162 §2.1: leaf hash SHA-256(0x00 || leaf),
// node hash SHA-256(0x01 || left || right), inclusion path verified as in §2.1.3.2), with WebCrypto.
// Everything is fetched from the ledger API; nothing is read from the page but the seq to check.
"use strict";
(function () {
  const enc = new TextEncoder();

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function unhex(text) {
    if (!/^([0-9a-f]{2})*$/.test(text)) throw new Error("bad hex `" + text + "`");
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
    return out;
  }

  async function sha256(...parts) {
    const size = parts.reduce((n, p) => n + p.length, 0);
    const data = new Uint8Array(size);
    let at = 0;
    for (const p of parts) { data.set(p, at); at += p.length; }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  }

  const leafHash = (leaf) => sha256(Uint8Array.of(0), leaf);
  const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

  // RFC 9162 §2.1.3.2: the root that `path` proves for leaf `index` in a tree of `size` leaves.
  async function rootFromInclusion(index, size, hash, path) {
    if (!(index >= 0 && index < size)) throw new Error("seq " + index + " is not in a tree of size " + size);
    let fn = index, sn = size - 1, r = hash;
    for (const p of path) {
      if (sn === 0) throw new Error("the proof is longer than the tree is deep");
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("the proof is shorter than the tree is deep");
    return r;
  }

  async function getJson(url) {
    const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!resp.ok) throw new Error(url + " answered " + resp.status);
    return resp.json();
  }

  // Ed25519 over the checkpoint text (docs/ledger.md); null where the browser has no Ed25519.
  async function checkSignature(head, publicKeyHex) {
    const body = ["tearline-ledger-checkpoint/v1", head.origin, String(head.size), head.root,
      String(head.timestamp_us)].join("\n") + "\n";
    let key;
    try {
      key = await crypto.subtle.importKey("raw", unhex(publicKeyHex), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return null;
    }
    const sig = Uint8Array.from(atob(head.signature), (c) => c.charCodeAt(0));
    return crypto.subtle.verify({ name: "Ed25519" }, key, sig, enc.encode(body));
  }

  async function verify(api, seq, publicKeyHex) {
    const head = await getJson(api + "/head");
    const got = await getJson(api + "/leaves?start=" + seq + "&end=" + (seq + 1));
    const entry = got.leaves[0];
    if (!entry || entry.seq !== seq || typeof entry.leaf !== "string") throw new Error("entry " + seq + " not returned");
    if (JSON.parse(entry.leaf).seq !== seq) throw new Error("entry " + seq + " names another seq");
    const lh = await leafHash(enc.encode(entry.leaf));
    if (hex(lh) !== entry.leaf_hash) throw new Error("the entry's bytes do not give its leaf hash");
    const proof = await getJson(api + "/proof/inclusion?seq=" + seq + "&size=" + head.size);
    const root = await rootFromInclusion(seq, head.size, lh, proof.path.map(unhex));
    if (hex(root) !== head.root) throw new Error("the proof leads to another root than the signed head's");
    const signed = publicKeyHex ? await checkSignature(head, publicKeyHex) : null;
    if (signed === false) throw new Error("the tree head signature does not verify");
    return { head: head, signed: signed, steps: proof.path.length };
  }

  window.tearlineLedger = { hex, unhex, leafHash, nodeHash, rootFromInclusion, verify, checkSignature };

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.verify");
    if (!button) return;
    const box = document.getElementById("ledger-root");
    const out = button.parentElement.querySelector("output.result");
    const seq = Number(button.dataset.seq);
    out.className = "result";
    out.textContent = "checking…";
    if (!window.crypto || !crypto.subtle) {
      out.className = "result failed";
      out.textContent = "this browser offers no WebCrypto here (use HTTPS or localhost)";
      return;
    }
    try {
      const r = await verify(box.dataset.api, seq, box.dataset.publicKey);
      out.className = "result verified";
      out.textContent = "verified: in the tree of size " + r.head.size + " (" + r.steps + " proof steps), " +
        (r.signed ? "head signature valid" : "head signature not checked: no Ed25519 in this browser");
    } catch (e) {
      out.className = "result failed";
      out.textContent = "FAILED: " + e.message;
    }
  });
})();
