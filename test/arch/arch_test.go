package arch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/essnap/essnap/"

// forbidden lists, per package under pkg/, the packages it must never
// import: the layers of docs/architecture.md, lower never reaching higher.
var forbidden = map[string][]string{
	"pkg/esclient": {"pkg/failure", "pkg/engine", "pkg/handler", "pkg/wiring"},
	"pkg/failure":  {"pkg/engine", "pkg/handler", "pkg/wiring", "pkg/snapshot", "pkg/reindex", "pkg/metadata", "pkg/retention"},
	// The pure policies never talk to a domain.
	"pkg/snapshot":  {"pkg/esclient", "pkg/engine", "pkg/handler", "pkg/wiring"},
	"pkg/retention": {"pkg/esclient", "pkg/engine", "pkg/handler", "pkg/wiring"},
	"pkg/reindex":   {"pkg/esclient", "pkg/engine", "pkg/handler", "pkg/wiring"},
	"pkg/metadata":  {"pkg/esclient", "pkg/engine", "pkg/handler", "pkg/wiring"},
	"pkg/settings":  {"pkg/esclient", "pkg/engine", "pkg/handler", "pkg/wiring"},
	"pkg/migrate":   {"pkg/esclient", "pkg/engine", "pkg/handler", "pkg/wiring"},
	"pkg/drill":     {"pkg/esclient", "pkg/engine", "pkg/handler", "pkg/wiring"},
	"pkg/model":     {"pkg/esclient", "pkg/engine", "pkg/handler", "pkg/wiring"},
	"pkg/ledger":    {"pkg/esclient", "pkg/engine", "pkg/handler", "pkg/wiring"},
	"pkg/setup":     {"pkg/esclient", "pkg/engine", "pkg/handler", "pkg/wiring"},
	"pkg/engine":    {"pkg/handler", "pkg/wiring"},
	"pkg/handler":   {"pkg/wiring"},
}

// maxMethods bounds every interface under pkg/: a handler declares the few
// calls it makes, not the whole engine.
const maxMethods = 12

// root is the module's top folder.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// parsePkg parses the non-test Go files of one folder.
func parsePkg(t *testing.T, dir string) []*ast.File {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// pkgDirs are the folders under pkg/ that hold Go files.
func pkgDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	top := root(t)
	err := filepath.WalkDir(filepath.Join(top, "pkg"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(top, p)
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func TestLayers(t *testing.T) {
	top := root(t)
	for _, dir := range pkgDirs(t) {
		for _, f := range parsePkg(t, filepath.Join(top, dir)) {
			for _, imp := range f.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				if path == "github.com/aws/aws-lambda-go" || strings.HasPrefix(path, "github.com/aws/aws-lambda-go/") {
					t.Errorf("%s imports %s: only functions/*/main.go may (brief: pkg never imports aws-lambda-go)", dir, path)
				}
				rel, ok := strings.CutPrefix(path, module)
				if !ok {
					continue
				}
				for _, bad := range forbidden[dir] {
					if rel == bad || strings.HasPrefix(rel, bad+"/") {
						t.Errorf("%s imports %s: a lower layer must not reach a higher one (docs/architecture.md)", dir, rel)
					}
				}
			}
		}
	}
}

func TestInterfacesStaySmall(t *testing.T) {
	top := root(t)
	seen := 0
	for _, dir := range pkgDirs(t) {
		for _, f := range parsePkg(t, filepath.Join(top, dir)) {
			ast.Inspect(f, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok {
					return true
				}
				it, ok := ts.Type.(*ast.InterfaceType)
				if !ok {
					return true
				}
				seen++
				if k := len(it.Methods.List); k > maxMethods {
					t.Errorf("%s: interface %s has %d methods; at most %d (declare the few calls each user makes)", dir, ts.Name.Name, k, maxMethods)
				}
				return true
			})
		}
	}
	if seen < 10 {
		t.Fatalf("found only %d interfaces under pkg/: the walk is broken", seen)
	}
}

// TestEveryFunctionHasItsHandlerFile keeps "where does the drill live?"
// answered by a name: functions/<name> has pkg/handler/<name>.go.
func TestEveryFunctionHasItsHandlerFile(t *testing.T) {
	top := root(t)
	entries, err := os.ReadDir(filepath.Join(top, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		file := filepath.Join(top, "pkg", "handler", strings.ReplaceAll(e.Name(), "-", "_")+".go")
		if _, err := os.Stat(file); err != nil {
			t.Errorf("functions/%s has no handler file %s", e.Name(), file)
		}
	}
}
