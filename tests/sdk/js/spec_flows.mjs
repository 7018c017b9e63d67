// The spec's SDK walkthroughs ("Specifying Amazon S3 encryption" > Using the AWS SDKs) with the AWS SDK for
// JavaScript v3: upload with SSE, read the encryption state (HeadObject and GetObject), change an object's
// encryption state by copying (to a new key, then delete the source; and in place), copy across buckets,
// and a multipart upload with ServerSideEncryption through @aws-sdk/lib-storage's Upload.
//
// Environment: SEALBOX_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
// Arguments: SOURCE_BUCKET TARGET_BUCKET (both exist). Prints one JSON object with what each step saw.
import { Readable } from "node:stream";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const MIB = 1024 * 1024;
const [sourceBucket, targetBucket] = process.argv.slice(2);
const client = new S3Client({
  region: "us-east-1",
  endpoint: process.env.SEALBOX_ENDPOINT,
  forcePathStyle: true,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  },
  maxAttempts: 1,
});

const results = {};

async function state(bucket, key) {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return head.ServerSideEncryption ?? "not set";
}

async function body(bucket, key) {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { sse: got.ServerSideEncryption ?? "not set", text: await got.Body.transformToString() };
}

// 1. Upload a new object with server-side encryption, as the Java/PHP/Ruby/.NET examples do.
const put = await client.send(new PutObjectCommand({
  Bucket: sourceBucket, Key: "encrypted-on-upload.txt", Body: "Test object encrypted with SSE",
  ServerSideEncryption: "AES256",
}));
results.put_sse = put.ServerSideEncryption ?? "not set";
results.head_sse = await state(sourceBucket, "encrypted-on-upload.txt");
results.get_sse = await body(sourceBucket, "encrypted-on-upload.txt");

// 2. Change an object's encryption state: put it unencrypted, copy it with SSE, delete the original.
const plain = await client.send(new PutObjectCommand({
  Bucket: sourceBucket, Key: "to-encrypt.txt", Body: "Object example to encrypt by copying",
}));
results.put_plain = plain.ServerSideEncryption ?? "not set";
const copy = await client.send(new CopyObjectCommand({
  Bucket: sourceBucket, Key: "encrypted-copy.txt", CopySource: `${sourceBucket}/to-encrypt.txt`,
  ServerSideEncryption: "AES256",
}));
results.copy_sse = copy.ServerSideEncryption ?? "not set";
results.copy_has_result = Boolean(copy.CopyObjectResult && copy.CopyObjectResult.ETag);
await client.send(new DeleteObjectCommand({ Bucket: sourceBucket, Key: "to-encrypt.txt" }));
results.copy_body = await body(sourceBucket, "encrypted-copy.txt");

// 3. The same change in place: copy the object onto itself with SSE.
await client.send(new PutObjectCommand({ Bucket: sourceBucket, Key: "in-place.txt", Body: "in place" }));
const inPlace = await client.send(new CopyObjectCommand({
  Bucket: sourceBucket, Key: "in-place.txt", CopySource: `${sourceBucket}/in-place.txt`,
  ServerSideEncryption: "AES256",
}));
results.in_place_sse = inPlace.ServerSideEncryption ?? "not set";
results.in_place_state = await state(sourceBucket, "in-place.txt");

// 4. Copy across buckets without asking: the copy is not encrypted, whatever the source was (the spec).
const across = await client.send(new CopyObjectCommand({
  Bucket: targetBucket, Key: "copied.txt", CopySource: `${sourceBucket}/encrypted-on-upload.txt`,
}));
results.across_sse = across.ServerSideEncryption ?? "not set";

// 5. A multipart upload with SSE through lib-storage (5 MiB parts, a stream of unknown length).
async function* chunks() {
  for (let i = 0; i < 12; i++) {
    yield Buffer.alloc(MIB, 65 + i); // 12 MiB: 'A' * 1 MiB, 'B' * 1 MiB, ...
  }
}
const upload = new Upload({
  client,
  params: {
    Bucket: targetBucket, Key: "multipart.bin", Body: Readable.from(chunks()),
    ServerSideEncryption: "AES256", ContentType: "application/octet-stream",
  },
  partSize: 5 * MIB,
  queueSize: 2,
});
const uploaded = await upload.done();
results.multipart = {
  sse: uploaded.ServerSideEncryption ?? "not set",
  etag: uploaded.ETag,
  state: await state(targetBucket, "multipart.bin"),
};

// 6. SSE-KMS (the account's managed key aws/s3, created on first use) on a copy.
try {
  await client.send(new CopyObjectCommand({
    Bucket: targetBucket, Key: "kms.txt", CopySource: `${sourceBucket}/encrypted-copy.txt`,
    ServerSideEncryption: "aws:kms",
  }));
  results.kms = "accepted";
} catch (err) {
  results.kms = { name: err.name, status: err.$metadata?.httpStatusCode };
}

console.log(JSON.stringify(results));
