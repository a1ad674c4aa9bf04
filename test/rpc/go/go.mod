module tailnetd/rpcharness

go 1.24.4

require (
	github.com/coder/coder/v2 v2.24.1
	github.com/coder/websocket v1.8.14
	github.com/hashicorp/yamux v0.1.2
	google.golang.org/protobuf v1.36.6
	storj.io/drpc v0.0.34
)

require (
	github.com/klauspost/compress v1.18.0 // indirect
	github.com/zeebo/errs v1.4.0 // indirect
	golang.org/x/xerrors v0.0.0-20240903120638-7835f813f4da // indirect
	nhooyr.io/websocket v1.8.7
)
