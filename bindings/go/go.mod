module github.com/inferencekey/sdk/bindings/go

go 1.22
