package hooks

import (
	"fmt"
	"io"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// The concatenation operator. gopher-lua runs a..b..c as one OP_CONCAT
// instruction that joins its operands in Go; the deadline is checked
// before and after it, never during, and nothing bounds the result: 200
// operands of 16 MiB make one 3 GB string in one instruction, and
// s = s .. s doubles past any limit between two checks of the memory
// watch. The VM has no hook for the instruction and no allocator hook.
// What gopher-lua does let us control is compilation: scripts are
// parsed to an AST here and compiled by us, so every concatenation
// expression is rewritten into a call of concatGuard with the same
// operands, which checks the result's size against Config.MaxString
// before it allocates. The function is bound to a local of each chunk
// when the chunk starts, so a script that changes _G or setfenv cannot
// take it away from code already compiled. load and loadstring compile
// through the same rewrite.
//
// What remains: strings made in Go by the engine (a message body) are
// as large as the engine made them, and a chunk compiled by some other
// path (none in the daemon; the REPL's own input) uses the raw operator.

// concatName is the chunk-local (and global) name of concatGuard: not a
// valid identifier, so no script can write it or shadow it.
const concatName = "(concat)"

// Compile parses and compiles Lua source as the engine does for the
// scripts: with the concatenation operator bounded. name is the chunk
// name in error positions.
func Compile(r io.Reader, name string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(r, name)
	if err != nil {
		return nil, syntaxError(name, err)
	}
	proto, err := lua.Compile(guardChunk(chunk), name)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return proto, nil
}

// guardChunk rewrites the concatenations of a chunk and binds the
// guard's local at its top.
func guardChunk(chunk []ast.Stmt) []ast.Stmt {
	guardStmts(chunk)
	bind := &ast.LocalAssignStmt{Names: []string{concatName}, Exprs: []ast.Expr{&ast.IdentExpr{Value: concatName}}}
	return append([]ast.Stmt{bind}, chunk...)
}

func guardStmts(stmts []ast.Stmt) {
	for _, s := range stmts {
		guardStmt(s)
	}
}

func guardStmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		guardExprs(s.Lhs)
		guardExprs(s.Rhs)
	case *ast.LocalAssignStmt:
		guardExprs(s.Exprs)
	case *ast.FuncCallStmt:
		s.Expr = guardExpr(s.Expr)
	case *ast.DoBlockStmt:
		guardStmts(s.Stmts)
	case *ast.WhileStmt:
		s.Condition = guardExpr(s.Condition)
		guardStmts(s.Stmts)
	case *ast.RepeatStmt:
		s.Condition = guardExpr(s.Condition)
		guardStmts(s.Stmts)
	case *ast.IfStmt:
		s.Condition = guardExpr(s.Condition)
		guardStmts(s.Then)
		guardStmts(s.Else)
	case *ast.NumberForStmt:
		s.Init, s.Limit = guardExpr(s.Init), guardExpr(s.Limit)
		if s.Step != nil {
			s.Step = guardExpr(s.Step)
		}
		guardStmts(s.Stmts)
	case *ast.GenericForStmt:
		guardExprs(s.Exprs)
		guardStmts(s.Stmts)
	case *ast.FuncDefStmt:
		if s.Name != nil {
			if s.Name.Func != nil {
				s.Name.Func = guardExpr(s.Name.Func)
			}
			if s.Name.Receiver != nil {
				s.Name.Receiver = guardExpr(s.Name.Receiver)
			}
		}
		guardStmts(s.Func.Stmts)
	case *ast.ReturnStmt:
		guardExprs(s.Exprs)
	}
}

func guardExprs(es []ast.Expr) {
	for i, e := range es {
		es[i] = guardExpr(e)
	}
}

// guardExpr returns e with its concatenations rewritten.
func guardExpr(e ast.Expr) ast.Expr {
	switch x := e.(type) {
	case *ast.StringConcatOpExpr:
		return concatCall(x)
	case *ast.AttrGetExpr:
		x.Object, x.Key = guardExpr(x.Object), guardExpr(x.Key)
	case *ast.TableExpr:
		for _, f := range x.Fields {
			if f.Key != nil {
				f.Key = guardExpr(f.Key)
			}
			f.Value = guardExpr(f.Value)
		}
	case *ast.FuncCallExpr:
		if x.Func != nil {
			x.Func = guardExpr(x.Func)
		}
		if x.Receiver != nil {
			x.Receiver = guardExpr(x.Receiver)
		}
		guardExprs(x.Args)
	case *ast.LogicalOpExpr:
		x.Lhs, x.Rhs = guardExpr(x.Lhs), guardExpr(x.Rhs)
	case *ast.RelationalOpExpr:
		x.Lhs, x.Rhs = guardExpr(x.Lhs), guardExpr(x.Rhs)
	case *ast.ArithmeticOpExpr:
		x.Lhs, x.Rhs = guardExpr(x.Lhs), guardExpr(x.Rhs)
	case *ast.UnaryMinusOpExpr:
		x.Expr = guardExpr(x.Expr)
	case *ast.UnaryNotOpExpr:
		x.Expr = guardExpr(x.Expr)
	case *ast.UnaryLenOpExpr:
		x.Expr = guardExpr(x.Expr)
	case *ast.FunctionExpr:
		guardStmts(x.Stmts)
	}
	return e
}

// concatCall turns a..b..c (right-nested in the AST) into
// (concat)(a, b, c). An operand that could yield several values (a call,
// ...) is cut to one, as the operator does.
func concatCall(x *ast.StringConcatOpExpr) ast.Expr {
	first := x
	var args []ast.Expr
	for {
		args = append(args, oneValue(guardExpr(x.Lhs)))
		next, ok := x.Rhs.(*ast.StringConcatOpExpr)
		if !ok {
			args = append(args, oneValue(guardExpr(x.Rhs)))
			break
		}
		x = next
	}
	call := &ast.FuncCallExpr{Func: &ast.IdentExpr{Value: concatName}, Args: args}
	call.Func.SetLine(first.Line())
	call.Func.SetLastLine(first.LastLine())
	call.SetLine(first.Line())
	call.SetLastLine(first.LastLine())
	return call
}

func oneValue(e ast.Expr) ast.Expr {
	switch x := e.(type) {
	case *ast.FuncCallExpr:
		x.AdjustRet = true
	case *ast.Comma3Expr:
		x.AdjustRet = true
	}
	return e
}

// installConcat gives a state the guard and the load functions that
// compile through the rewrite.
func (e *Engine) installConcat(L *lua.LState) {
	max := e.cfg.MaxString
	L.SetGlobal(concatName, L.NewFunction(func(L *lua.LState) int { return concatGuard(L, max) }))
	L.SetGlobal("loadstring", L.NewFunction(func(L *lua.LState) int {
		return loadChunk(L, L.CheckString(1), L.OptString(2, "<string>"))
	}))
	L.SetGlobal("load", L.NewFunction(func(L *lua.LState) int {
		fn := L.CheckFunction(1)
		var src strings.Builder
		for {
			L.Push(fn)
			L.Call(0, 1)
			piece := L.Get(-1)
			L.Pop(1)
			s, ok := piece.(lua.LString)
			if !ok || s == "" {
				break
			}
			if src.Len()+len(s) > max {
				L.RaiseError("load: chunk longer than %d bytes", max)
			}
			src.WriteString(string(s))
		}
		return loadChunk(L, src.String(), L.OptString(2, "<load>"))
	}))
}

// loadChunk compiles src into a function, or returns nil and the error.
func loadChunk(L *lua.LState, src, name string) int {
	proto, err := Compile(strings.NewReader(src), name)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(L.NewFunctionFromProto(proto))
	return 1
}

// concatGuard is the concatenation operator with a size bound. As in Lua
// it works from the right: runs of strings and numbers are joined at
// once, anything else goes through its __concat metamethod.
func concatGuard(L *lua.LState, max int) int {
	n := L.GetTop()
	if n == 0 {
		L.Push(lua.LString(""))
		return 1
	}
	rhs := L.Get(n)
	for i := n - 1; i >= 1; {
		lhs := L.Get(i)
		if !lua.LVCanConvToString(lhs) || !lua.LVCanConvToString(rhs) {
			rhs = concatMeta(L, lhs, rhs)
			i--
			continue
		}
		j := i
		for j > 1 && lua.LVCanConvToString(L.Get(j-1)) {
			j--
		}
		rhs = joinRun(L, j, i, rhs, max)
		i = j - 1
	}
	L.Push(rhs)
	return 1
}

// joinRun joins the values at stack positions from..to and then last,
// all strings or numbers, once their total size is known to fit. A
// number is formatted twice, to keep the common all-string case at one
// allocation.
func joinRun(L *lua.LState, from, to int, last lua.LValue, max int) lua.LValue {
	size := textLen(last)
	for k := from; k <= to; k++ {
		size += textLen(L.Get(k))
	}
	if size > max {
		L.RaiseError("string concatenation: result longer than %d bytes", max)
	}
	var b strings.Builder
	b.Grow(size)
	for k := from; k <= to; k++ {
		b.WriteString(lua.LVAsString(L.Get(k)))
	}
	b.WriteString(lua.LVAsString(last))
	return lua.LString(b.String())
}

func textLen(v lua.LValue) int {
	if s, ok := v.(lua.LString); ok {
		return len(s)
	}
	return len(lua.LVAsString(v))
}

func concatMeta(L *lua.LState, lhs, rhs lua.LValue) lua.LValue {
	op := L.GetMetaField(lhs, "__concat")
	if op == lua.LNil {
		op = L.GetMetaField(rhs, "__concat")
	}
	if op.Type() != lua.LTFunction {
		L.RaiseError("cannot perform concat operation between %s and %s", lhs.Type().String(), rhs.Type().String())
	}
	L.Push(op)
	L.Push(lhs)
	L.Push(rhs)
	L.Call(2, 1)
	v := L.Get(-1)
	L.Pop(1)
	return v
}
