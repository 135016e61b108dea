package template

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Fixed values the evaluator uses for pseudo parameters and physical IDs.
const (
	testAccount   = "123456789012"
	testRegion    = "ap-northeast-1"
	testStackName = "essnap"
)

// templatePath is the SAM template, relative to this package's directory;
// ESSNAP_TEMPLATE overrides it (e.g. to check that a mutated copy fails).
var templatePath = func() string {
	if p := os.Getenv("ESSNAP_TEMPLATE"); p != "" {
		return p
	}
	return filepath.Join("..", "..", "template.yaml")
}()

// loadTemplate parses template.yaml into plain maps, slices and scalars with
// every short-form tag converted to its long form.
func loadTemplate(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatalf("read template: %v", err)
	}
	tpl, err := parseCFN(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", templatePath, err)
	}
	return tpl
}

func parseCFN(raw []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	v, err := fromNode(&doc)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template root is %T, not a mapping", v)
	}
	return m, nil
}

// fromNode converts a yaml.Node into Go values. A CloudFormation tag such as
// !Sub becomes {"Fn::Sub": <value>}; !Ref and !Condition keep their names;
// the scalar form of !GetAtt ("Res.Attr") becomes ["Res", "Attr"].
func fromNode(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromNode(n.Content[0])
	case yaml.AliasNode:
		return fromNode(n.Alias)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name := strings.TrimPrefix(n.Tag, "!")
		inner := *n
		inner.Tag = ""
		var v any
		if n.Kind == yaml.ScalarNode {
			v = n.Value // tagged scalars are always strings (!Ref Name, !Sub "...")
		} else {
			var err error
			if v, err = fromNode(&inner); err != nil {
				return nil, err
			}
		}
		switch name {
		case "Ref", "Condition":
			return map[string]any{name: v}, nil
		case "GetAtt":
			if s, ok := v.(string); ok {
				res, attr, found := strings.Cut(s, ".")
				if !found {
					return nil, fmt.Errorf("line %d: !GetAtt %q has no attribute", n.Line, s)
				}
				v = []any{res, attr}
			}
		}
		return map[string]any{"Fn::" + name: v}, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, k)
			}
			v, err := fromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromNode(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
}

func TestShortFormTags(t *testing.T) {
	src := `
A: !Ref Param
B: !GetAtt Res.Arn
C: !Sub "${X}/*"
D: !If [Cond, !Ref AWS::NoValue, [1, "2"]]
E: !Join ["", !Ref List]
F: !Select [3, !Split [":", !Ref Arn]]
G: !Not [!Condition Other]
H: "false"
`
	got, err := parseCFN([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"A": `map[Ref:Param]`,
		"B": `map[Fn::GetAtt:[Res Arn]]`,
		"C": `map[Fn::Sub:${X}/*]`,
		"D": `map[Fn::If:[Cond map[Ref:AWS::NoValue] [1 2]]]`,
		"E": `map[Fn::Join:[ map[Ref:List]]]`,
		"F": `map[Fn::Select:[3 map[Fn::Split:[: map[Ref:Arn]]]]]`,
		"G": `map[Fn::Not:[map[Condition:Other]]]`,
		"H": `false`,
	}
	for k, w := range want {
		if g := fmt.Sprint(got[k]); g != w {
			t.Errorf("%s = %s, want %s", k, g, w)
		}
	}
	if _, ok := got["H"].(string); !ok {
		t.Errorf(`quoted "false" decoded as %T, want string`, got["H"])
	}
}

// ------------------------------------------------------------------ helpers

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func listOf(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	default:
		return []any{x}
	}
}

// strs returns a string or list of strings as []string (IAM's Action,
// Resource and condition values take both forms).
func strs(v any) []string {
	var out []string
	for _, x := range listOf(v) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// walk calls fn for every value in v, depth first, with a path for messages.
func walk(path string, v any, fn func(path string, v any)) {
	fn(path, v)
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			walk(path+"."+k, x[k], fn)
		}
	case []any:
		for i, e := range x {
			walk(fmt.Sprintf("%s[%d]", path, i), e, fn)
		}
	}
}

// ---------------------------------------------------------------- evaluator

// noValue is what AWS::NoValue evaluates to; containers drop it.
type noValue struct{}

// scenario is one set of parameter values the template is evaluated with.
type scenario struct {
	name   string
	params map[string]any // overrides of the template's defaults
}

// stack is a template evaluated for one scenario: conditions resolved,
// resources whose Condition is false removed, intrinsics replaced by values.
type stack struct {
	scenario   string
	params     map[string]any
	conditions map[string]bool
	resources  map[string]map[string]any // logical ID -> evaluated resource
	outputs    map[string]any
}

type evaluator struct {
	tpl        map[string]any
	params     map[string]any
	conditions map[string]bool
	resources  map[string]any
}

// evaluate resolves the template for the given scenario.
func evaluate(t *testing.T, tpl map[string]any, sc scenario) *stack {
	t.Helper()
	e := &evaluator{tpl: tpl, params: map[string]any{}, conditions: map[string]bool{}, resources: mapOf(tpl["Resources"])}
	for name, p := range mapOf(tpl["Parameters"]) {
		pm := mapOf(p)
		v, ok := sc.params[name]
		if !ok {
			d, has := pm["Default"]
			if !has {
				t.Fatalf("scenario %s: parameter %s has no default and no value", sc.name, name)
			}
			v = fmt.Sprint(d)
		}
		if pm["Type"] == "CommaDelimitedList" {
			if s, isStr := v.(string); isStr {
				v = toAny(strings.Split(s, ","))
			}
		}
		e.params[name] = v
	}
	for name := range mapOf(tpl["Conditions"]) {
		e.condition(t, name)
	}
	st := &stack{scenario: sc.name, params: e.params, conditions: e.conditions, resources: map[string]map[string]any{}, outputs: map[string]any{}}
	for id, r := range e.resources {
		rm := mapOf(r)
		if c, ok := rm["Condition"].(string); ok && !e.condition(t, c) {
			continue
		}
		st.resources[id] = mapOf(e.eval(t, rm))
	}
	for id, o := range mapOf(tpl["Outputs"]) {
		st.outputs[id] = e.eval(t, o)
	}
	return st
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func (e *evaluator) condition(t *testing.T, name string) bool {
	t.Helper()
	if v, ok := e.conditions[name]; ok {
		return v
	}
	def, ok := mapOf(e.tpl["Conditions"])[name]
	if !ok {
		t.Fatalf("unknown condition %q", name)
	}
	b, ok := e.eval(t, def).(bool)
	if !ok {
		t.Fatalf("condition %s does not evaluate to a boolean", name)
	}
	e.conditions[name] = b
	return b
}

// physicalID is the fake name a Ref to a resource returns.
func physicalID(id string) string {
	return testStackName + "-" + strings.ToLower(id) + "-abc123"
}

// ref resolves Ref to a parameter, pseudo parameter or resource.
func (e *evaluator) ref(t *testing.T, name string) any {
	t.Helper()
	switch name {
	case "AWS::Region":
		return testRegion
	case "AWS::AccountId":
		return testAccount
	case "AWS::Partition":
		return "aws"
	case "AWS::StackName":
		return testStackName
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::NoValue":
		return noValue{}
	}
	if v, ok := e.params[name]; ok {
		return v
	}
	r, ok := e.resources[name]
	if !ok {
		t.Fatalf("Ref to unknown name %q", name)
	}
	switch mapOf(r)["Type"] {
	case "AWS::SNS::Topic":
		return fmt.Sprintf("arn:aws:sns:%s:%s:%s", testRegion, testAccount, physicalID(name))
	case "AWS::SQS::Queue":
		return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", testRegion, testAccount, physicalID(name))
	}
	return physicalID(name)
}

// getAtt returns the fake value of Res.Attr.
func (e *evaluator) getAtt(t *testing.T, res, attr string) string {
	t.Helper()
	r, ok := e.resources[res]
	if !ok {
		t.Fatalf("GetAtt of unknown resource %q", res)
	}
	typ, _ := mapOf(r)["Type"].(string)
	id := physicalID(res)
	switch typ + "." + attr {
	case "AWS::IAM::Role.Arn":
		return fmt.Sprintf("arn:aws:iam::%s:role/%s", testAccount, id)
	case "AWS::S3::Bucket.Arn":
		return "arn:aws:s3:::" + id
	case "AWS::Serverless::Function.Arn":
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", testRegion, testAccount, id)
	case "AWS::SQS::Queue.Arn":
		return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", testRegion, testAccount, id)
	case "AWS::SQS::Queue.QueueName":
		return id
	case "AWS::Logs::LogGroup.Arn":
		return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", testRegion, testAccount, id)
	}
	t.Fatalf("GetAtt %s.%s (%s) is not modelled by the test evaluator", res, attr, typ)
	return ""
}

var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

func (e *evaluator) sub(t *testing.T, s string, vars map[string]any) string {
	t.Helper()
	return subVar.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			return fmt.Sprint(e.eval(t, v))
		}
		if res, attr, ok := strings.Cut(name, "."); ok {
			return e.getAtt(t, res, attr)
		}
		return fmt.Sprint(e.ref(t, name))
	})
}

// eval resolves the intrinsic functions used by the template.
func (e *evaluator) eval(t *testing.T, v any) any {
	t.Helper()
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, el := range x {
			if r := e.eval(t, el); r != (noValue{}) {
				out = append(out, r)
			}
		}
		return out
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if r, ok := e.intrinsic(t, k, arg); ok {
					return r
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, el := range x {
			if r := e.eval(t, el); r != (noValue{}) {
				out[k] = r
			}
		}
		return out
	}
	return v
}

func (e *evaluator) intrinsic(t *testing.T, fn string, arg any) (any, bool) {
	t.Helper()
	args := listOf(arg)
	switch fn {
	case "Ref":
		return e.ref(t, arg.(string)), true
	case "Condition":
		return e.condition(t, arg.(string)), true
	case "Fn::GetAtt":
		return e.getAtt(t, fmt.Sprint(args[0]), fmt.Sprint(args[1])), true
	case "Fn::Sub":
		if s, ok := arg.(string); ok {
			return e.sub(t, s, nil), true
		}
		return e.sub(t, args[0].(string), mapOf(args[1])), true
	case "Fn::If":
		if e.condition(t, args[0].(string)) {
			return e.eval(t, args[1]), true
		}
		return e.eval(t, args[2]), true
	case "Fn::Equals":
		return fmt.Sprint(e.eval(t, args[0])) == fmt.Sprint(e.eval(t, args[1])), true
	case "Fn::Not":
		return !e.eval(t, args[0]).(bool), true
	case "Fn::And", "Fn::Or":
		res := fn == "Fn::And"
		for _, a := range args {
			b := e.eval(t, a).(bool)
			if fn == "Fn::And" {
				res = res && b
			} else {
				res = res || b
			}
		}
		return res, true
	case "Fn::Join":
		parts := strs(e.eval(t, args[1]))
		return strings.Join(parts, fmt.Sprint(args[0])), true
	case "Fn::Split":
		return toAny(strings.Split(fmt.Sprint(e.eval(t, args[1])), fmt.Sprint(args[0]))), true
	case "Fn::Select":
		i, err := strconv.Atoi(fmt.Sprint(e.eval(t, args[0])))
		list := listOf(e.eval(t, args[1]))
		if err != nil || i < 0 || i >= len(list) {
			t.Fatalf("Fn::Select %v out of range", args)
		}
		return list[i], true
	}
	if strings.HasPrefix(fn, "Fn::") {
		t.Fatalf("intrinsic %s is not modelled by the test evaluator", fn)
	}
	return nil, false
}
