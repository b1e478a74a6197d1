"""Dataset adapters: read each dataset as distributed, one module per dataset.

Expression datasets (`dfew`, `ferv39k`, `mafw`, `rafdb`, and the embedded benchmark in `synthetic`) return a
`RecordSet` of `Record`s with 0-based labels into the dataset's `CLASSES` tuple (official order), so later
stages never branch on the dataset. Every path is configurable: `root` is the dataset's top folder;
`split_dir`, `media_dir` (and `label_file` for RAF-DB) are taken relative to `root` unless given absolute.
`media` chooses between the official frame folders and the original videos. Face-identity datasets for
pretraining (`folder`, `casia_webface`, `vggface2`) return a `FaceIdSet`; `lfw` returns a `VerificationSet`.

`base` holds what they share (errors, annotation paths, media checks, the finished set), `labels` how numeric
labels are numbered, and `registry` the adapters by name.
"""
