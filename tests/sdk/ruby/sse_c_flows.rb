# SSE-C with the Ruby SDK (which computes the key MD5 itself): put, get, head, a wrong key, a copy from one
# customer key to another, and a multipart upload with the key on every part.
#
# Environment: SEALBOX_ENDPOINT (HTTPS: this SDK sends customer keys over HTTPS only; its
# require_https_for_sse_cpk option is not honoured by the packaged version), SEALBOX_CA (the server's
# certificate), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
# Arguments: BUCKET KEY_A_BASE64 KEY_B_BASE64. Prints one JSON object with what each step saw.
require 'aws-sdk-s3'
require 'base64'
require 'json'

bucket, key_a, key_b = ARGV[0], Base64.strict_decode64(ARGV[1]), Base64.strict_decode64(ARGV[2])
s3 = Aws::S3::Client.new(region: 'us-east-1', endpoint: ENV.fetch('SEALBOX_ENDPOINT'), force_path_style: true,
                         credentials: Aws::Credentials.new(ENV.fetch('AWS_ACCESS_KEY_ID'), ENV.fetch('AWS_SECRET_ACCESS_KEY')),
                         retry_limit: 0, ssl_ca_bundle: ENV.fetch('SEALBOX_CA'))
sse = ->(key) { { sse_customer_algorithm: 'AES256', sse_customer_key: key } }
out = {}
put = s3.put_object(bucket: bucket, key: 'rb.txt', body: 'hello from ruby', **sse.(key_a))
out['put'] = { 'algorithm' => put.sse_customer_algorithm, 'md5' => put.sse_customer_key_md5 }
out['get'] = s3.get_object(bucket: bucket, key: 'rb.txt', **sse.(key_a)).body.read
out['head'] = s3.head_object(bucket: bucket, key: 'rb.txt', **sse.(key_a)).content_length
begin
  s3.get_object(bucket: bucket, key: 'rb.txt', **sse.(key_b))
  out['wrong'] = 'accepted'
rescue Aws::S3::Errors::ServiceError => e
  out['wrong'] = e.context.http_response.status_code
end
s3.copy_object(bucket: bucket, key: 'rb-b.txt', copy_source: "#{bucket}/rb.txt",
               copy_source_sse_customer_algorithm: 'AES256', copy_source_sse_customer_key: key_a, **sse.(key_b))
out['copy'] = s3.get_object(bucket: bucket, key: 'rb-b.txt', **sse.(key_b)).body.read
upload = s3.create_multipart_upload(bucket: bucket, key: 'rb-mp.bin', **sse.(key_a))
parts = [['a' * (5 * 1024 * 1024), 1], ['tail', 2]].map do |body, number|
  part = s3.upload_part(bucket: bucket, key: 'rb-mp.bin', upload_id: upload.upload_id, part_number: number, body: body,
                        **sse.(key_a))
  { part_number: number, etag: part.etag }
end
s3.complete_multipart_upload(bucket: bucket, key: 'rb-mp.bin', upload_id: upload.upload_id, multipart_upload: { parts: parts })
out['multipart_tail'] = s3.get_object(bucket: bucket, key: 'rb-mp.bin', range: "bytes=#{5 * 1024 * 1024 - 1}-",
                                      **sse.(key_a)).body.read
puts JSON.generate(out)
