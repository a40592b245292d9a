// A column field: free text with a list of the input's columns (name and type) to pick from. The list
// opens on focus or click showing every column, narrows while typing; arrows and Enter pick, Escape closes.
import { Box, HStack, Input, Text } from "@chakra-ui/react";
import { type KeyboardEvent, useId, useState } from "react";
import type { ColumnChoice } from "../graph/inputColumns";
import { useT } from "../i18n";

/** The choices shown for `filter` (null: all), those starting with it first; case is ignored. */
export function filterChoices(columns: ColumnChoice[], filter: string | null): ColumnChoice[] {
  const text = filter?.trim().toLowerCase() ?? "";
  if (!text) return columns;
  const starts = columns.filter((c) => c.name.toLowerCase().startsWith(text));
  const contains = columns.filter((c) => !c.name.toLowerCase().startsWith(text) && c.name.toLowerCase().includes(text));
  return [...starts, ...contains];
}

interface Props {
  name: string;
  value: string;
  columns: ColumnChoice[];
  readOnly: boolean;
  placeholder?: string;
  /** Marks the input as wrong (a list item with an error; a single field takes it from its Field). */
  invalid?: boolean;
  onChange: (value: string) => void;
}

export function ColumnPicker({ name, value, columns, readOnly, placeholder, invalid, onChange }: Props) {
  const t = useT();
  const listId = useId();
  const [open, setOpen] = useState(false);
  const [filter, setFilter] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const shown = filterChoices(columns, filter);
  const visible = open && !readOnly && shown.length > 0;

  const show = () => {
    setOpen(true);
    setFilter(null);
    setActive(Math.max(0, columns.findIndex((c) => c.name === value)));
  };
  const pick = (choice: ColumnChoice) => {
    onChange(choice.name);
    setOpen(false);
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (readOnly) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!visible) return show();
      const step = e.key === "ArrowDown" ? 1 : -1;
      setActive((a) => (a + step + shown.length) % shown.length);
    } else if (e.key === "Enter" && visible && shown[active]) {
      e.preventDefault();
      pick(shown[active]);
    } else if (e.key === "Escape" && visible) {
      e.stopPropagation();
      setOpen(false);
    }
  };

  return (
    <Box position="relative" w="full" data-testid="column-picker">
      <Input
        size="sm"
        name={name}
        value={value}
        placeholder={placeholder ?? t("pick or type a column")}
        readOnly={readOnly}
        autoComplete="off"
        aria-invalid={invalid || undefined}
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={visible}
        aria-controls={listId}
        onFocus={show}
        onClick={show}
        onBlur={() => setOpen(false)}
        onKeyDown={onKeyDown}
        onChange={(e) => {
          onChange(e.target.value);
          setFilter(e.target.value);
          setActive(0);
          setOpen(true);
        }}
      />
      {visible && (
        <Box
          as="ul"
          role="listbox"
          id={listId}
          data-testid="column-options"
          position="absolute"
          zIndex="dropdown"
          top="100%"
          left="0"
          right="0"
          mt="1"
          maxH="48"
          overflowY="auto"
          bg="bg.panel"
          borderWidth="1px"
          borderRadius="md"
          boxShadow="md"
          listStyleType="none"
        >
          {shown.map((c, i) => (
            <HStack
              as="li"
              key={c.name}
              role="option"
              aria-selected={i === active}
              data-testid="column-option"
              data-column={c.name}
              data-type={c.type ?? undefined}
              px="2"
              py="1"
              gap="2"
              fontSize="sm"
              cursor="pointer"
              bg={i === active ? "bg.emphasized" : undefined}
              onMouseEnter={() => setActive(i)}
              // Keep the focus in the input, so the blur does not close the list before the click lands.
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => pick(c)}
            >
              <Text flex="1" truncate fontFamily="mono" data-testid="column-name">
                {c.name}
              </Text>
              {c.type && (
                <Text color="fg.muted" fontSize="xs" fontFamily="mono" data-testid="column-type">
                  {c.type}
                </Text>
              )}
            </HStack>
          ))}
        </Box>
      )}
    </Box>
  );
}
