"""The Batch API: OpenAI-compatible files and batches, run line by line on the governed path.

A caller uploads a JSONL file (`service.BatchService.create_file`), creates a batch over it
(``validating``), and a worker on the jobs queue validates and splits it into chunks of lines
(`worker.BatchWorker.plan`, ``in_progress``), each chunk one queue message naming S3 objects, never
carrying lines. Each chunk's lines run through the same use cases as the synchronous routes
(`lines.run_line`: entitlement, limits and quotas, usage policy, privacy, backend), under the key
that created the batch, checked again when the chunk runs. The worker that counts the last chunk
(an atomic counter) writes the output and error files and completes the batch.

Ports (`ports`): the batch store (DynamoDB), the object store (S3), the job queue (SQS); every
object and every caller-chosen string kept (file names, metadata) is sealed under its tenant
(`sealing`), so a stored byte is readable only with the key service's consent for that tenant.
"""
