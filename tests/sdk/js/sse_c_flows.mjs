// SSE-C with the AWS SDK for JavaScript v3 (which computes the key MD5 itself): PutObject, GetObject with a
// range, HeadObject, a wrong key, CopyObject from one customer key to another, and a multipart upload
// (CreateMultipartUpload, UploadPart, UploadPartCopy, Complete) with the key on every part.
//
// Environment: SEALBOX_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
// Arguments: BUCKET KEY_A_BASE64 KEY_B_BASE64. Prints one JSON object with what each step saw.
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";

const MIB = 1024 * 1024;
const [bucket, keyA, keyB] = process.argv.slice(2);
const client = new S3Client({
  region: "us-east-1",
  endpoint: process.env.SEALBOX_ENDPOINT,
  forcePathStyle: true,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
  maxAttempts: 1,
});
const sse = (key) => ({ SSECustomerAlgorithm: "AES256", SSECustomerKey: Buffer.from(key, "base64") });
const copySse = (key) => ({ CopySourceSSECustomerAlgorithm: "AES256", CopySourceSSECustomerKey: Buffer.from(key, "base64") });
const text = async (out) => Buffer.from(await out.Body.transformToByteArray()).toString();
const out = {};

const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: "js.txt", Body: "hello from node", ...sse(keyA) }));
out.put = { algorithm: put.SSECustomerAlgorithm, md5: put.SSECustomerKeyMD5 };
out.get = await text(await client.send(new GetObjectCommand({ Bucket: bucket, Key: "js.txt", ...sse(keyA) })));
out.range = await text(await client.send(new GetObjectCommand({ Bucket: bucket, Key: "js.txt", Range: "bytes=6-9", ...sse(keyA) })));
out.head = (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: "js.txt", ...sse(keyA) }))).ContentLength;
try {
  await client.send(new GetObjectCommand({ Bucket: bucket, Key: "js.txt", ...sse(keyB) }));
  out.wrong = "accepted";
} catch (err) {
  out.wrong = err.$metadata.httpStatusCode;
}
await client.send(new CopyObjectCommand({ Bucket: bucket, Key: "js-b.txt", CopySource: `${bucket}/js.txt`, ...copySse(keyA), ...sse(keyB) }));
out.copy = await text(await client.send(new GetObjectCommand({ Bucket: bucket, Key: "js-b.txt", ...sse(keyB) })));

const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "js-mp.bin", ...sse(keyA) }));
const p1 = await client.send(new UploadPartCommand({ Bucket: bucket, Key: "js-mp.bin", UploadId, PartNumber: 1, Body: Buffer.alloc(5 * MIB, 65), ...sse(keyA) }));
const p2 = await client.send(new UploadPartCopyCommand({ Bucket: bucket, Key: "js-mp.bin", UploadId, PartNumber: 2, CopySource: `${bucket}/js-b.txt`, ...copySse(keyB), ...sse(keyA) }));
await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: "js-mp.bin", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.CopyPartResult.ETag }] } }));
const tail = await text(await client.send(new GetObjectCommand({ Bucket: bucket, Key: "js-mp.bin", Range: `bytes=${5 * MIB - 2}-`, ...sse(keyA) })));
out.multipart_tail = tail;
console.log(JSON.stringify(out));
