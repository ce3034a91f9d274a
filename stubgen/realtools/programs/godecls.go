// Prints, as JSON, the Go declarations of the functions a package implements in
// assembly (a func declaration without a body), with each parameter's and result's
// offset and size in the ABI0 argument frame, as go vet's asmdecl lays them out.
//
// Usage: go run godecls.go GOARCH TOOLTAGS DIR
//
// TOOLTAGS: the build's tool tags for GOARCH, comma-separated (`go list -f
// '{{context.ToolTags}}' runtime` with GOARCH set): the goexperiment tags differ
// between architectures, and the sources of internal/abi depend on them.
//
// Run by stubgen (stubgen/realtools/godecls.py) with the go on PATH, offline. The
// package's files are the ones the build would take for linux/GOARCH (build tags and
// file names); they are type-checked without function bodies, their imports from
// source, and errors are tolerated: a type that cannot be resolved is reported as such.
package main

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type value struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Kind   string `json:"kind"` // signed, unsigned, pointer, bool, float, other, unknown
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
}

type fn struct {
	Name    string  `json:"name"`
	Where   string  `json:"where"`
	Params  []value `json:"params"`
	Results []value `json:"results"`
	ArgSize int64   `json:"argsize"`
}

type output struct {
	Package string   `json:"package"`
	GOARCH  string   `json:"goarch"`
	Files   []string `json:"files"`
	Funcs   []fn     `json:"funcs"`
	Errors  []string `json:"errors"`
}

func kind(t types.Type) string {
	if t == nil || t == types.Typ[types.Invalid] {
		return "unknown"
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch {
		case u.Kind() == types.Invalid:
			return "unknown"
		case u.Kind() == types.UnsafePointer:
			return "pointer"
		case u.Info()&types.IsBoolean != 0:
			return "bool"
		case u.Info()&types.IsUnsigned != 0:
			return "unsigned"
		case u.Info()&types.IsInteger != 0:
			return "signed"
		case u.Info()&types.IsFloat != 0:
			return "float"
		}
	case *types.Pointer, *types.Signature, *types.Map, *types.Chan:
		return "pointer"
	}
	return "other"
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: godecls GOARCH TOOLTAGS DIR")
		os.Exit(2)
	}
	goarch, dir := os.Args[1], os.Args[3]
	ctxt := build.Default
	ctxt.GOOS, ctxt.GOARCH, ctxt.CgoEnabled = "linux", goarch, false
	ctxt.ToolTags = nil
	if os.Args[2] != "" {
		ctxt.ToolTags = strings.Split(os.Args[2], ",")
	}
	build.Default = ctxt // the source importer reads imported packages for this target too
	bp, err := ctxt.ImportDir(dir, 0)
	if err != nil {
		if _, ok := err.(*build.NoGoError); !ok {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	out := output{GOARCH: goarch, Files: []string{}, Funcs: []fn{}, Errors: []string{}}
	if bp != nil {
		out.Package = bp.Name
	}
	fset := token.NewFileSet()
	var files []*ast.File
	var names []string
	if bp != nil {
		names = append(names, bp.GoFiles...)
	}
	sort.Strings(names)
	for _, name := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			out.Errors = append(out.Errors, err.Error())
			continue
		}
		files = append(files, f)
		out.Files = append(out.Files, name)
	}
	sizes := types.SizesFor("gc", goarch)
	if sizes == nil {
		fmt.Fprintf(os.Stderr, "unknown GOARCH %q\n", goarch)
		os.Exit(2)
	}
	conf := types.Config{
		Importer:         importer.ForCompiler(fset, "source", nil),
		IgnoreFuncBodies: true,
		FakeImportC:      true,
		Sizes:            sizes,
		Error: func(err error) {
			if len(out.Errors) < 20 {
				out.Errors = append(out.Errors, err.Error())
			}
		},
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	path := out.Package
	if bp != nil && bp.ImportPath != "" && bp.ImportPath != "." {
		path = bp.ImportPath
	}
	conf.Check(path, fset, files, info)
	word := sizes.Sizeof(types.Typ[types.Uintptr])
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body != nil || fd.Recv != nil {
				continue
			}
			pos := fset.Position(fd.Pos())
			one := fn{Name: fd.Name.Name, Where: fmt.Sprintf("%s:%d", filepath.Base(pos.Filename), pos.Line),
				Params: []value{}, Results: []value{}}
			var offset int64
			add := func(list *ast.FieldList, dst *[]value) {
				if list == nil {
					return
				}
				argnum := 0
				for _, field := range list.List {
					t := info.Types[field.Type].Type
					var size, align int64 = word, word
					k := kind(t)
					if _, star := field.Type.(*ast.StarExpr); star && k == "unknown" {
						// *T with T not resolved (the package read in part): a pointer all the same.
						k = "pointer"
					}
					if k != "unknown" && t != nil && t != types.Typ[types.Invalid] {
						size, align = sizes.Sizeof(t), sizes.Alignof(t)
					}
					offset += -offset & (align - 1)
					ts := types.ExprString(field.Type)
					fieldNames := field.Names
					if len(fieldNames) == 0 {
						// Unnamed: arg, arg1, arg2... and ret, ret1, ret2..., as asmdecl names them.
						name := "arg"
						if dst == &one.Results {
							name = "ret"
						}
						if argnum > 0 {
							name += fmt.Sprint(argnum)
						}
						fieldNames = []*ast.Ident{{Name: name}}
					}
					argnum += len(fieldNames)
					for _, n := range fieldNames {
						offset += -offset & (align - 1)
						*dst = append(*dst, value{Name: n.Name, Type: ts, Kind: k, Offset: offset, Size: size})
						offset += size
					}
				}
			}
			add(fd.Type.Params, &one.Params)
			if fd.Type.Results != nil && len(fd.Type.Results.List) > 0 {
				// Results start at a multiple of the register size (asmdecl: maxAlign).
				offset += -offset & (word - 1)
				add(fd.Type.Results, &one.Results)
			}
			one.ArgSize = offset
			out.Funcs = append(out.Funcs, one)
		}
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
