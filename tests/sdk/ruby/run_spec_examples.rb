# Drives the spec's Ruby examples (spec_examples.rb, unchanged) against an S3 endpoint.
#
# Environment: SEALBOX_ENDPOINT (e.g. http://127.0.0.1:9000), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
# Arguments: SOURCE_BUCKET TARGET_BUCKET MISSING_BUCKET (both buckets exist; the last does not).
# Prints one JSON object: what each example returned (and printed), step by step.
require 'json'
require 'stringio'
require_relative 'spec_examples'

def client_from_env
  # The only difference from the examples' Aws::S3::Client.new(region: 'us-east-1'): where it points.
  Aws::S3::Client.new(
    region: 'us-east-1',
    endpoint: ENV.fetch('SEALBOX_ENDPOINT'),
    force_path_style: true,
    credentials: Aws::Credentials.new(ENV.fetch('AWS_ACCESS_KEY_ID'), ENV.fetch('AWS_SECRET_ACCESS_KEY'))
  )
end

# Runs the block, returning [its value, what it printed to stdout].
def capture
  saved = $stdout
  buffer = StringIO.new
  $stdout = buffer
  value = yield
  [value, buffer.string]
ensure
  $stdout = saved
end

source_bucket, target_bucket, missing_bucket = ARGV
s3_client = client_from_env
results = {}

# 1. Upload with SSE (the first example) and read back the encryption state (the second).
value, printed = capture do
  upload_file_encrypted_aes256_at_rest?(s3_client, source_bucket, 'my-file.txt', 'This is the content of my-file.txt.')
end
results['upload'] = { 'value' => value, 'printed' => printed }
results['state_uploaded'] = get_server_side_encryption_state(s3_client, source_bucket, 'my-file.txt')

# 2. An unencrypted object (plain put_object, as the spec's "Uploading objects" page does): 'not set'.
s3_client.put_object(bucket: source_bucket, key: 'my-source-file.txt', body: 'This is my-source-file.txt.')
results['state_plain'] = get_server_side_encryption_state(s3_client, source_bucket, 'my-source-file.txt')

# 3. Change its encryption state: copy it with SSE into the other bucket (the third example) ...
value, printed = capture do
  object_copied_with_encryption?(s3_client, source_bucket, 'my-source-file.txt', target_bucket,
                                 'my-target-file.txt', 'AES256')
end
results['copy'] = { 'value' => value, 'printed' => printed }
results['state_copy'] = get_server_side_encryption_state(s3_client, target_bucket, 'my-target-file.txt')
results['copy_body'] = s3_client.get_object(bucket: target_bucket, key: 'my-target-file.txt').body.read
# ... and delete the source object, as the spec says to.
s3_client.delete_object(bucket: source_bucket, key: 'my-source-file.txt')
results['state_source_after_delete'] = get_server_side_encryption_state(s3_client, source_bucket, 'my-source-file.txt')

# 4. Copy onto itself with SSE: the in-place way of changing the encryption state.
s3_client.put_object(bucket: source_bucket, key: 'in-place.txt', body: 'encrypt me where I am')
value, printed = capture do
  object_copied_with_encryption?(s3_client, source_bucket, 'in-place.txt', source_bucket, 'in-place.txt', 'AES256')
end
results['copy_in_place'] = { 'value' => value, 'printed' => printed }
results['state_in_place'] = get_server_side_encryption_state(s3_client, source_bucket, 'in-place.txt')

# 5. The examples' error paths: a missing bucket, and an encryption type sealbox does not offer.
value, printed = capture do
  upload_file_encrypted_aes256_at_rest?(s3_client, missing_bucket, 'my-file.txt', 'x')
end
results['upload_missing_bucket'] = { 'value' => value, 'printed' => printed }
value, printed = capture do
  object_copied_with_encryption?(s3_client, source_bucket, 'my-file.txt', target_bucket, 'kms.txt', 'aws:kms')
end
results['copy_kms'] = { 'value' => value, 'printed' => printed }

puts JSON.generate(results)
