"""Small real snippets per language: the definitions and references tests expect."""

SNIPPETS = {
    "python": (
        "pkg/shapes.py",
        '''import math
from pkg.base import Base as B

RATIO = 2


@dataclass
class Circle(B):
    """A circle."""

    unit = "cm"

    def __init__(self, r):
        self.r = r

    def area(self) -> float:
        return math.pi * self.r**2


def make(r):
    return Circle(r).area()
''',
        [
            ("RATIO", "constant", None),
            ("Circle", "class", None),
            ("unit", "field", "Circle"),
            ("__init__", "method", "Circle"),
            ("area", "method", "Circle"),
            ("make", "function", None),
        ],
        ("Circle", 2),
    ),
    "javascript": (
        "src/cart.js",
        """import { price } from './price.js';
const TAX = 0.2;
class Cart {
  constructor() { this.items = []; }
  total() { return this.items.reduce((s, i) => s + price(i), 0); }
}
function checkout(cart) { return new Cart().total() * (1 + TAX); }
const helper = (x) => checkout(x);
""",
        [
            ("TAX", "constant", None),
            ("Cart", "class", None),
            ("constructor", "method", "Cart"),
            ("total", "method", "Cart"),
            ("checkout", "function", None),
            ("helper", "function", None),
        ],
        ("checkout", 2),
    ),
    "typescript": (
        "src/user.ts",
        """import { Id } from "./id";
export interface User { id: Id; name: string }
export type Role = "admin" | "user";
export enum Level { Low, High }
export class Repo {
  private users: User[] = [];
  find(id: Id): User | undefined { return this.users.find((u) => u.id === id); }
}
export function load(repo: Repo, id: Id): User | undefined { return repo.find(id); }
""",
        [
            ("User", "interface", None),
            ("id", "field", "User"),
            ("name", "field", "User"),
            ("Role", "type", None),
            ("Level", "enum", None),
            ("Repo", "class", None),
            ("users", "field", "Repo"),
            ("find", "method", "Repo"),
            ("load", "function", None),
        ],
        ("Repo", 2),
    ),
    "tsx": (
        "src/App.tsx",
        """import React from "react";
type Props = { title: string };
export function Header({ title }: Props) { return <h1>{title}</h1>; }
export const App = () => <Header title="hi" />;
""",
        [
            ("Props", "type", None),
            ("title", "field", "Props"),
            ("Header", "function", None),
            ("App", "function", None),
        ],
        ("Header", 2),
    ),
    "go": (
        "store/store.go",
        """package store

import "fmt"

const Limit = 10

type Store struct {
	items map[string]int
}

type Getter interface {
	Get(key string) int
}

func (s *Store) Get(key string) int { return s.items[key] }

func New() *Store { fmt.Println(Limit); return &Store{items: map[string]int{}} }
""",
        [
            ("Limit", "constant", None),
            ("Store", "type", None),
            ("items", "field", "Store"),
            ("Getter", "type", None),
            ("Get", "method", "Getter"),
            ("Get", "method", None),
            ("New", "function", None),
        ],
        ("Store", 4),
    ),
    "rust": (
        "src/lib.rs",
        """use std::collections::HashMap;

pub const MAX: usize = 8;

pub struct Cache { map: HashMap<String, u32> }

pub trait Lookup { fn get(&self, k: &str) -> Option<u32>; }

impl Lookup for Cache {
    fn get(&self, k: &str) -> Option<u32> { self.map.get(k).copied() }
}

pub fn build() -> Cache { Cache { map: HashMap::new() } }
""",
        [
            ("MAX", "constant", None),
            ("Cache", "class", None),
            ("map", "field", "Cache"),
            ("Lookup", "interface", None),
            ("get", "method", "Lookup"),
            ("Cache", "impl", None),
            ("get", "method", "Cache"),
            ("build", "function", None),
        ],
        ("Cache", 4),
    ),
    "java": (
        "src/main/java/shop/Order.java",
        """package shop;

import java.util.List;

public class Order {
    private final List<Item> items;
    public Order(List<Item> items) { this.items = items; }
    public int total() { return items.size(); }
    enum Status { NEW, PAID }
}
""",
        [
            ("Order", "class", None),
            ("items", "field", "Order"),
            ("Order", "method", "Order"),
            ("total", "method", "Order"),
            ("Status", "enum", "Order"),
            ("NEW", "constant", "Status"),
            ("PAID", "constant", "Status"),
        ],
        ("items", 5),
    ),
    "c": (
        "src/buf.c",
        """#include "buf.h"
#define CAP 64
struct buf { char *data; int len; };
typedef struct buf buf_t;
static int grow(struct buf *b) { return b->len * 2; }
int buf_len(const buf_t *b) { return grow((struct buf *)b); }
""",
        [
            ("CAP", "macro", None),
            ("buf", "class", None),
            ("data", "field", "buf"),
            ("len", "field", "buf"),
            ("buf_t", "type", None),
            ("grow", "function", None),
            ("buf_len", "function", None),
        ],
        ("grow", 2),
    ),
    "cpp": (
        "src/shape.cpp",
        """#include <vector>
namespace geo {
class Shape {
 public:
  virtual double area() const = 0;
  int sides;
};
double total(const std::vector<Shape*>& v) {
  double t = 0; for (auto s : v) t += s->area(); return t;
}
}
""",
        [
            ("geo", "module", None),
            ("Shape", "class", "geo"),
            ("area", "method", "Shape"),
            ("sides", "field", "Shape"),
            ("total", "function", "geo"),
        ],
        ("Shape", 2),
    ),
    "ruby": (
        "lib/greeter.rb",
        """require_relative "base"

module Greet
  VERSION = "1.0"

  class Greeter < Base
    def initialize(name)
      @name = name
    end

    def greet
      "hi #{@name}"
    end

    def self.build(name)
      Greeter.new(name)
    end
  end
end
""",
        [
            ("Greet", "module", None),
            ("VERSION", "constant", "Greet"),
            ("Greeter", "class", "Greet"),
            ("initialize", "method", "Greeter"),
            ("greet", "method", "Greeter"),
            ("build", "method", "Greeter"),
        ],
        ("Greeter", 2),
    ),
}
