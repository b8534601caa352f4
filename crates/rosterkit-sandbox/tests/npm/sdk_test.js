// Drives the sandbox with the providers' official SDKs over HTTPS; run by
// tests/official_sdks.rs with NODE_EXTRA_CA_CERTS set to the sandbox's CA. Prints one JSON
// object with what the SDKs returned; the Rust test asserts on it and on the sandbox.
"use strict";

const { LinqAPIV3 } = require("@linqapp/sdk");
const { CommunicationIdentityClient } = require("@azure/communication-identity");
const { ChatClient } = require("@azure/communication-chat");
const { AzureCommunicationTokenCredential } = require("@azure/communication-common");

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`missing environment variable ${name}`);
  return value;
}

async function linq() {
  const client = new LinqAPIV3({
    apiKey: env("LINQ_API_KEY"),
    baseURL: env("LINQ_BASE_URL"),
    maxRetries: 0,
  });
  const chat = env("LINQ_CHAT");
  const before = await client.chats.retrieve(chat);
  const removed = await client.chats.participants.remove(chat, { handle: env("LINQ_REMOVE") });
  const added = await client.chats.participants.add(chat, { handle: env("LINQ_ADD") });
  const after = await client.chats.retrieve(chat);
  const left = await client.chats.leaveChat(chat);
  return {
    before: before.handles.map((h) => h.handle),
    removed,
    added,
    after: after.handles.filter((h) => !h.left_at).map((h) => h.handle),
    left,
  };
}

async function listAll(thread, pageSize) {
  const ids = [];
  let pages = 0;
  for await (const page of thread.listParticipants({ maxPageSize: pageSize }).byPage()) {
    pages += 1;
    for (const p of page) ids.push(p.id.communicationUserId ?? p.id.rawId ?? JSON.stringify(p.id));
  }
  return { ids, pages };
}

async function acs() {
  const endpoint = env("ACS_ENDPOINT");
  const threadId = env("ACS_THREAD");
  const identity = new CommunicationIdentityClient(env("ACS_CONNECTION_STRING"));
  const { user, token, expiresOn } = await identity.createUserAndToken(["chat"]);

  // The service user brings the new user into the thread.
  const service = new ChatClient(
    endpoint,
    new AzureCommunicationTokenCredential(env("ACS_SERVICE_TOKEN")),
  ).getChatThreadClient(threadId);
  await service.addParticipants({ participants: [{ id: user, displayName: "SDK user" }] });

  // The new user lists (paged), removes one member and adds another.
  const mine = new ChatClient(endpoint, new AzureCommunicationTokenCredential(token))
    .getChatThreadClient(threadId);
  const listed = await listAll(mine, Number(env("ACS_PAGE_SIZE")));
  await mine.removeParticipant({ communicationUserId: env("ACS_REMOVE") });
  const added = await mine.addParticipants({
    participants: [{ id: { communicationUserId: env("ACS_ADD") } }],
  });
  const after = await listAll(mine, 100);

  // A token from issueAccessToken works too; after revoking, it no longer does.
  const issued = await identity.getToken(user, ["chat"]);
  await identity.revokeTokens(user);
  let afterRevoke = "accepted";
  try {
    await listAll(
      new ChatClient(endpoint, new AzureCommunicationTokenCredential(issued.token))
        .getChatThreadClient(threadId),
      100,
    );
  } catch (e) {
    afterRevoke = String(e.statusCode ?? e.code ?? e.message);
  }
  return {
    user: user.communicationUserId,
    expiresOn: expiresOn.toISOString(),
    listed,
    invalid: added.invalidParticipants ?? [],
    after,
    afterRevoke,
  };
}

(async () => {
  const result = { linq: await linq(), acs: await acs() };
  process.stdout.write(JSON.stringify(result) + "\n");
})().catch((e) => {
  process.stderr.write(`official SDK run failed: ${e && e.stack ? e.stack : e}\n`);
  if (e && e.response) process.stderr.write(`response: ${JSON.stringify(e.response)}\n`);
  process.exit(1);
});
